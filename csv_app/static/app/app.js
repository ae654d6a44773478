// ravid web app: the few behaviours htmx does not give by itself (no build step; served from /static/).
(function () {
  "use strict";

  function ready(fn) {
    if (document.readyState !== "loading") fn(); else document.addEventListener("DOMContentLoaded", fn);
  }

  ready(function () {
    // Upload: drag and drop onto the drop zone, the chosen file's name, and a byte progress bar while it uploads.
    var form = document.getElementById("upload-form");
    if (form) {
      var input = document.getElementById("file");
      var zone = document.getElementById("dropzone");
      var box = form.querySelector(".upload-progress");
      var bar = document.getElementById("upload-bytes");
      var percent = document.getElementById("upload-percent");
      var label = zone.querySelector("span");
      var showName = function () {
        if (input.files.length) label.textContent = input.files[0].name + " (" + input.files[0].size + " bytes)";
      };
      input.addEventListener("change", showName);
      ["dragenter", "dragover"].forEach(function (type) {
        zone.addEventListener(type, function (e) { e.preventDefault(); zone.classList.add("over"); });
      });
      ["dragleave", "drop"].forEach(function (type) {
        zone.addEventListener(type, function () { zone.classList.remove("over"); });
      });
      zone.addEventListener("drop", function (e) {
        e.preventDefault();
        if (e.dataTransfer && e.dataTransfer.files.length) { input.files = e.dataTransfer.files; showName(); }
      });
      form.addEventListener("htmx:beforeRequest", function () {
        box.hidden = false; bar.value = 0; percent.textContent = "0%";
        document.getElementById("upload-status").innerHTML = "";
      });
      form.addEventListener("htmx:xhr:progress", function (e) {
        if (e.detail.lengthComputable && e.detail.total) {
          var p = Math.round(100 * e.detail.loaded / e.detail.total);
          var size = input.files.length ? input.files[0].size : e.detail.total;
          bar.value = p; percent.textContent = p + "% of " + size + " bytes";
        }
      });
      form.addEventListener("htmx:afterRequest", function (e) { if (e.detail.successful) bar.value = 100; });
    }

    // A request htmx sent that failed says so, instead of leaving the page as it was.
    var flash = document.getElementById("flash");
    document.body.addEventListener("htmx:responseError", function (e) {
      var status = e.detail.xhr.status;
      flash.textContent = status === 403 ? "This page has expired (your session or its form): reload it and try again."
        : status === 404 ? "This is no longer available (deleted, or not yours to see): reload the page."
        : "The server could not answer (" + status + "); try again in a moment.";
    });
    document.body.addEventListener("htmx:sendError", function () {
      flash.textContent = "The server cannot be reached: check the connection, then reload the page.";
    });

    // The rows browser's filter: offer the operators that apply to the chosen column's type.
    var column = document.getElementById("add_column");
    if (column) {
      var operators = JSON.parse(column.dataset.operators || "{}");
      var op = document.getElementById("add_operator");
      var fill = function () {
        var allowed = operators[column.value] || [];
        var current = op.value;
        op.innerHTML = "";
        allowed.forEach(function (name) {
          var o = document.createElement("option"); o.textContent = name; op.appendChild(o);
        });
        if (allowed.indexOf(current) >= 0) op.value = current;
      };
      column.addEventListener("change", fill);
      fill();
    }
  });
})();
