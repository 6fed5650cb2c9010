// A form with data-confirm="question" asks before it is sent. It lives here, not in an
// onsubmit attribute, because the Content-Security-Policy runs no inline script.
document.addEventListener("submit", (event) => {
  const question = event.target.dataset ? event.target.dataset.confirm : undefined;
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});
