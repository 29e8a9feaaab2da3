// Branch CRM front-end glue. Loaded as a file (CSP forbids inline script).
document.addEventListener("htmx:responseError", function (event) {
  // A failed partial request must not fail silently: say so where it happened.
  var target = event.detail.target;
  if (target) {
    var note = document.createElement("div");
    note.className = "alert alert-danger mt-2";
    note.setAttribute("role", "alert");
    note.textContent = document.documentElement.lang.startsWith("zh")
      ? "请求失败（" + event.detail.xhr.status + "），请刷新页面后重试。"
      : "The request failed (" + event.detail.xhr.status + "). Reload the page and try again.";
    target.appendChild(note);
  }
});
