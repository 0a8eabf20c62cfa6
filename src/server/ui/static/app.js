// humanloop-tracing UI: keyboard navigation only. Pages work without it.
(function () {
  "use strict";
  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("table.rows tbody tr a:first-of-type"));
  }
  function typing(e) {
    var t = e.target;
    return t && (t.tagName === "INPUT" || t.tagName === "SELECT" || t.tagName === "TEXTAREA" || t.isContentEditable);
  }
  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey || typing(e)) {
      return;
    }
    if (e.key === "/") {
      var s = document.querySelector("[data-search]");
      if (s) {
        e.preventDefault();
        s.focus();
        s.select();
      }
      return;
    }
    if (e.key === "g") {
      window.location.href = "/";
      return;
    }
    if (e.key !== "j" && e.key !== "k") {
      return;
    }
    var links = rows();
    if (links.length === 0) {
      return;
    }
    var i = links.indexOf(document.activeElement);
    if (i < 0) {
      i = e.key === "j" ? 0 : links.length - 1;
    } else {
      i = e.key === "j" ? Math.min(i + 1, links.length - 1) : Math.max(i - 1, 0);
    }
    e.preventDefault();
    links[i].focus();
    links[i].closest("tr").scrollIntoView({ block: "nearest" });
  });
})();
