// Form behaviours the templates ask for with data- attributes (the CSP allows no inline handlers):
//   <form data-confirm="Question?">  asks before submitting;
//   <select data-autosubmit>         submits its form when changed;
//   <input data-select-on-focus>     selects its text when focused;
//   an htmx target with data-timeout-message shows it when its request times out or fails.
document.addEventListener("submit", function (event) {
  var form = event.target.closest("form[data-confirm]");
  if (form && !window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
}, true);
document.addEventListener("change", function (event) {
  var select = event.target.closest("[data-autosubmit]");
  if (select && select.form) select.form.requestSubmit ? select.form.requestSubmit() : select.form.submit();
});
document.addEventListener("focusin", function (event) {
  var input = event.target.closest("[data-select-on-focus]");
  if (input && input.select) input.select();
});
function showTimeout(event) {
  var target = event.detail && event.detail.target;
  if (target && target.hasAttribute("data-timeout-message")) {
    target.textContent = target.getAttribute("data-timeout-message");
  }
}
document.addEventListener("htmx:timeout", showTimeout);
document.addEventListener("htmx:sendError", showTimeout);
