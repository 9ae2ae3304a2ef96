/* Stocker web app: charts from embedded JSON, sortable tables, the screener's field autocomplete. */
(function () {
  "use strict";

  function drawCharts(root) {
    root.querySelectorAll("script[type='application/json'][data-chart]").forEach(function (node) {
      var target = document.getElementById(node.dataset.chart);
      if (!target || target.dataset.drawn) { return; }
      var spec = JSON.parse(node.textContent);
      target.dataset.drawn = "1";
      window.Plotly.newPlot(target, spec.data, spec.layout,
        { responsive: true, displaylogo: false });
    });
  }

  function sortKey(text) {
    var cleaned = text.replace(/[,%\s]/g, "");
    var value = parseFloat(cleaned);
    return cleaned !== "" && !isNaN(value) && /^-?[\d.]+(e-?\d+)?$/i.test(cleaned) ? value : text.toLowerCase();
  }

  function sortTable(button) {
    var th = button.closest("th");
    var table = th.closest("table");
    var index = Array.prototype.indexOf.call(th.parentNode.children, th);
    var ascending = th.getAttribute("aria-sort") !== "ascending";
    table.querySelectorAll("thead th").forEach(function (other) { other.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = sortKey(a.cells[index].textContent.trim());
      var y = sortKey(b.cells[index].textContent.trim());
      if (x === y) { return 0; }
      if (typeof x !== typeof y) { return typeof x === "number" ? -1 : 1; }
      return (x < y ? -1 : 1) * (ascending ? 1 : -1);
    });
    rows.forEach(function (row) { body.appendChild(row); });
  }

  function lastWord(input) {
    var before = input.value.slice(0, input.selectionStart || input.value.length);
    var match = /([A-Za-z_]+)$/.exec(before);
    return match ? match[1] : "";
  }

  function suggest(input) {
    var box = document.getElementById(input.dataset.suggestions);
    var fields = JSON.parse(document.getElementById(input.dataset.fields).textContent);
    var word = lastWord(input).toLowerCase();
    box.innerHTML = "";
    if (!word) { return; }
    Object.keys(fields).filter(function (name) {
      return name.indexOf(word) === 0 && name !== word;
    }).slice(0, 8).forEach(function (name) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "secondary";
      button.textContent = name;
      button.title = fields[name];
      button.addEventListener("click", function () {
        var end = input.selectionStart || input.value.length;
        var start = end - lastWord(input).length;
        input.value = input.value.slice(0, start) + name + " " + input.value.slice(end);
        box.innerHTML = "";
        input.focus();
        input.setSelectionRange(start + name.length + 1, start + name.length + 1);
      });
      box.appendChild(button);
    });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("th button.sort");
    if (button) { sortTable(button); }
  });
  document.addEventListener("input", function (event) {
    if (event.target.dataset && event.target.dataset.fields) { suggest(event.target); }
  });
  document.addEventListener("DOMContentLoaded", function () { drawCharts(document); });
  document.addEventListener("htmx:afterSettle", function (event) { drawCharts(event.target); });
})();
