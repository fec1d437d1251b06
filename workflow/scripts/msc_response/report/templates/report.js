/* Report behaviour, inlined into index.html: sortable and searchable tables, TSV
   downloads from the data embedded in the page, copying the methods text.
   No library and no network: everything the page needs is in the page. */
(function () {
  "use strict";

  // ----- sorting: click (or Enter on) a header; NA cells stay at the bottom -----
  var collator = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });

  function cellKey(row, index, numeric) {
    var cell = row.cells[index];
    if (!cell) { return null; }
    if (numeric) {
      var raw = cell.getAttribute("data-sort");
      if (raw === null || raw === "") { return null; }
      var value = parseFloat(raw);
      return isNaN(value) ? null : value;
    }
    var text = cell.textContent.trim();
    return text === "" ? null : text;
  }

  function sortBy(table, header) {
    var index = header.cellIndex;
    var numeric = header.getAttribute("data-type") === "num";
    var ascending = header.getAttribute("aria-sort") !== "ascending";
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var keyed = rows.map(function (row, position) {
      return { row: row, key: cellKey(row, index, numeric), position: position };
    });
    keyed.sort(function (a, b) {
      if (a.key === null || b.key === null) {
        if (a.key === b.key) { return a.position - b.position; }
        return a.key === null ? 1 : -1;
      }
      var order = numeric ? a.key - b.key : collator.compare(a.key, b.key);
      if (order === 0) { return a.position - b.position; }
      return ascending ? order : -order;
    });
    var fragment = document.createDocumentFragment();
    keyed.forEach(function (item) { fragment.appendChild(item.row); });
    body.appendChild(fragment);
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (cell) {
      cell.setAttribute("aria-sort", "none");
    });
    header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
  }

  // ----- searching: rows containing the text (any column, case-insensitive) -----
  function filterRows(input) {
    var table = document.getElementById(input.getAttribute("data-table"));
    var query = input.value.trim().toLowerCase();
    var rows = table.tBodies[0].rows;
    var shown = 0;
    for (var i = 0; i < rows.length; i++) {
      var match = query === "" || rows[i].textContent.toLowerCase().indexOf(query) !== -1;
      rows[i].hidden = !match;
      if (match) { shown++; }
    }
    var count = document.querySelector('[data-count-for="' + table.id + '"]');
    if (count) {
      if (!count.hasAttribute("data-initial")) {
        count.setAttribute("data-initial", count.textContent);
      }
      count.textContent = query
        ? shown + " of " + rows.length + " rows match \u201c" + input.value.trim() + "\u201d"
        : count.getAttribute("data-initial");
    }
  }

  // ----- downloads: the TSV embedded (base64, gzip when large) next to each table -----
  function tableBlob(id) {
    var holder = document.getElementById(id + "-data");
    var text = atob(holder.textContent.trim());
    var bytes = new Uint8Array(text.length);
    for (var i = 0; i < text.length; i++) { bytes[i] = text.charCodeAt(i); }
    var type = "text/tab-separated-values;charset=utf-8";
    if (holder.getAttribute("data-encoding") !== "gzip+base64") {
      return Promise.resolve(new Blob([bytes], { type: type }));
    }
    if (typeof DecompressionStream === "undefined") {
      return Promise.reject(new Error("this browser cannot unpack the table; use a current browser"));
    }
    var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return new Response(stream).arrayBuffer().then(function (buffer) {
      return new Blob([buffer], { type: type });
    });
  }

  function download(link) {
    tableBlob(link.getAttribute("data-download")).then(function (blob) {
      var url = URL.createObjectURL(blob);
      var anchor = document.createElement("a");
      anchor.href = url;
      anchor.download = link.getAttribute("download");
      document.body.appendChild(anchor);
      anchor.click();
      setTimeout(function () { URL.revokeObjectURL(url); anchor.remove(); }, 1000);
    }).catch(function (error) {
      link.textContent = "Download failed: " + error.message;
    });
  }

  // ----- copying the methods text -----
  function copyText(button) {
    var source = document.getElementById(button.getAttribute("data-copy"));
    var text = source.innerText;
    var done = function () { button.textContent = "Copied"; };
    var select = function () {
      var range = document.createRange();
      range.selectNodeContents(source);
      var selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      button.textContent = "Selected: press Ctrl+C (Cmd+C) to copy";
    };
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(text).then(done, select);
    } else {
      select();
    }
  }

  document.addEventListener("click", function (event) {
    var target = event.target;
    var header = target.closest("table.sortable thead th");
    if (header) { sortBy(header.closest("table"), header); return; }
    var link = target.closest("a[data-download]");
    if (link) { event.preventDefault(); download(link); return; }
    var button = target.closest("button[data-copy]");
    if (button) { copyText(button); }
  });
  document.addEventListener("keydown", function (event) {
    var header = event.target.closest && event.target.closest("table.sortable thead th");
    if (header && (event.key === "Enter" || event.key === " ")) {
      event.preventDefault();
      sortBy(header.closest("table"), header);
    }
  });
  document.addEventListener("input", function (event) {
    if (event.target.classList && event.target.classList.contains("table-search")) {
      filterRows(event.target);
    }
  });
}());
