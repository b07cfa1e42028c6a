/* FlowForge docs site: theme, graph pan/zoom/highlight, filters, copy buttons.
   A classic script (file:// pages cannot load modules), shipped with the package. */
(function () {
  "use strict";
  var THEME_KEY = "flowforge-docs-theme";
  var root = document.documentElement;

  function storedTheme() {
    try { return window.localStorage.getItem(THEME_KEY); } catch (e) { return null; }
  }
  function applyTheme(theme) {
    root.setAttribute("data-theme", theme);
    var button = document.getElementById("theme-toggle");
    if (button) button.textContent = theme === "dark" ? "Light mode" : "Dark mode";
  }
  var prefersDark = window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches;
  applyTheme(storedTheme() || (prefersDark ? "dark" : "light"));  // before the first paint

  function setUpTheme() {
    var button = document.getElementById("theme-toggle");
    applyTheme(root.getAttribute("data-theme"));
    button.addEventListener("click", function () {
      var next = root.getAttribute("data-theme") === "dark" ? "light" : "dark";
      applyTheme(next);
      try { window.localStorage.setItem(THEME_KEY, next); } catch (e) { /* private mode: not kept */ }
    });
  }

  /* -- the graph: its own transform on one <g>, so thousands of boxes pan without relayout -- */
  function Graph(figure) {
    var svg = figure.querySelector("svg.graph-svg");
    this.svg = svg;
    this.viewport = svg.querySelector("g.viewport");
    this.width = parseFloat(svg.getAttribute("width"));
    this.height = parseFloat(svg.getAttribute("height"));
    svg.removeAttribute("viewBox");
    svg.removeAttribute("width");
    svg.removeAttribute("height");
    if (this.height <= 420) { svg.classList.add("small"); svg.style.height = (this.height + 16) + "px"; }
    this.nodes = {};
    this.edgesOf = {};
    var self = this;
    Array.prototype.forEach.call(svg.querySelectorAll("a.node"), function (node) {
      self.nodes[node.getAttribute("data-key")] = node;
    });
    Array.prototype.forEach.call(svg.querySelectorAll("g.edges path"), function (edge) {
      [edge.getAttribute("data-p"), edge.getAttribute("data-c")].forEach(function (key) {
        (self.edgesOf[key] = self.edgesOf[key] || []).push(edge);
      });
    });
    this.edges = svg.querySelectorAll("g.edges path");
    this.fit(true);
    this.listen(figure);
  }
  Graph.prototype.apply = function () {
    this.viewport.setAttribute("transform", "translate(" + this.x + "," + this.y + ") scale(" + this.k + ")");
  };
  Graph.prototype.fit = function (first) {
    var box = this.svg.getBoundingClientRect();
    var k = Math.min(box.width / this.width, box.height / this.height, 1);
    if (first && k < 0.35) {  // a big graph opens readable at its start; Fit shows all of it
      this.k = 0.6;
      this.x = 0;
      this.y = (box.height - this.height * this.k) / 2;
    } else {
      this.k = k;
      this.x = (box.width - this.width * k) / 2;
      this.y = (box.height - this.height * k) / 2;
    }
    this.apply();
  };
  Graph.prototype.zoom = function (factor, cx, cy) {
    var k = Math.max(0.02, Math.min(4, this.k * factor));
    this.x = cx - (cx - this.x) * (k / this.k);
    this.y = cy - (cy - this.y) * (k / this.k);
    this.k = k;
    this.apply();
  };
  Graph.prototype.listen = function (figure) {
    var self = this, svg = this.svg, drag = null, moved = false;
    figure.querySelectorAll("button[data-zoom]").forEach(function (button) {
      button.addEventListener("click", function () {
        var how = button.getAttribute("data-zoom"), box = svg.getBoundingClientRect();
        if (how === "fit") self.fit(false);
        else self.zoom(how === "in" ? 1.25 : 0.8, box.width / 2, box.height / 2);
      });
    });
    svg.addEventListener("wheel", function (event) {
      event.preventDefault();
      var box = svg.getBoundingClientRect();
      self.zoom(event.deltaY < 0 ? 1.15 : 1 / 1.15, event.clientX - box.left, event.clientY - box.top);
    }, { passive: false });
    svg.addEventListener("pointerdown", function (event) {
      drag = { x: event.clientX, y: event.clientY, ox: self.x, oy: self.y };
      moved = false;
    });
    window.addEventListener("pointermove", function (event) {
      if (!drag) return;
      var dx = event.clientX - drag.x, dy = event.clientY - drag.y;
      if (!moved && Math.abs(dx) + Math.abs(dy) > 4) { moved = true; svg.classList.add("dragging"); }
      if (moved) { self.x = drag.ox + dx; self.y = drag.oy + dy; self.apply(); }
    });
    window.addEventListener("pointerup", function () { drag = null; svg.classList.remove("dragging"); });
    svg.addEventListener("click", function (event) {  // a drag that ends on a box is not a click
      if (moved) { event.preventDefault(); event.stopPropagation(); moved = false; }
    }, true);
    svg.addEventListener("mouseover", function (event) { self.hot(event.target, true); });
    svg.addEventListener("mouseout", function (event) { self.hot(event.target, false); });
  };
  Graph.prototype.hot = function (target, on) {
    var node = target.closest ? target.closest("a.node") : null;
    if (!node) return;
    (this.edgesOf[node.getAttribute("data-key")] || []).forEach(function (edge) { edge.classList.toggle("hot", on); });
  };
  Graph.prototype.show = function (visible) {  // visible: key -> bool, or null for all
    var nodes = this.nodes;
    Object.keys(nodes).forEach(function (key) { nodes[key].classList.toggle("dim", visible !== null && !visible[key]); });
    Array.prototype.forEach.call(this.edges, function (edge) {
      var dim = visible !== null && !(visible[edge.getAttribute("data-p")] && visible[edge.getAttribute("data-c")]);
      edge.classList.toggle("dim", dim);
    });
  };

  /* -- filters: the overview table and the graph show the same selection -- */
  function setUpFilters(graph) {
    var text = document.getElementById("filter-text");
    if (!text) return;
    var tag = document.getElementById("filter-tag"), kind = document.getElementById("filter-kind");
    var count = document.getElementById("filter-count");
    var rows = Array.prototype.map.call(document.querySelectorAll("#overview tbody tr"), function (row) {
      return { row: row, key: row.getAttribute("data-key"), kind: row.getAttribute("data-kind"),
               tags: JSON.parse(row.getAttribute("data-tags")), text: row.getAttribute("data-text") };
    });
    function apply() {
      var words = text.value.toLowerCase().split(/\s+/).filter(Boolean);
      var wanted = tag.value, ofKind = kind.value, visible = {}, shown = 0;
      var all = !words.length && !wanted && !ofKind;
      rows.forEach(function (item) {
        var match = all || (words.every(function (w) { return item.text.indexOf(w) >= 0; })
          && (!wanted || item.tags.indexOf(wanted) >= 0) && (!ofKind || item.kind === ofKind));
        item.row.hidden = !match;
        visible[item.key] = match;
        if (match) shown += 1;
      });
      count.textContent = all ? rows.length + " shown" : shown + " of " + rows.length + " shown";
      if (graph) graph.show(all ? null : visible);
    }
    text.addEventListener("input", apply);
    tag.addEventListener("change", apply);
    kind.addEventListener("change", apply);
    apply();
  }

  /* -- copy buttons: the Clipboard API where the page may use it, else a selection -- */
  function setUpCopy() {
    document.querySelectorAll("button[data-copy]").forEach(function (button) {
      button.addEventListener("click", function () {
        var text = document.getElementById(button.getAttribute("data-copy")).textContent;
        function done(label) {
          button.textContent = label;
          button.classList.add("done");
          window.setTimeout(function () { button.textContent = "Copy"; button.classList.remove("done"); }, 1500);
        }
        function fallback() {
          var area = document.createElement("textarea");
          area.value = text;
          document.body.appendChild(area);
          area.select();
          var ok = false;
          try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
          document.body.removeChild(area);
          done(ok ? "Copied" : "Press Ctrl+C");
        }
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(text).then(function () { done("Copied"); }, fallback);
        } else {
          fallback();
        }
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var started = performance.now();
    setUpTheme();
    var graphs = Array.prototype.map.call(document.querySelectorAll("figure.graph"), function (f) { return new Graph(f); });
    setUpFilters(graphs[0] || null);
    setUpCopy();
    window.requestAnimationFrame(function () {
      window.requestAnimationFrame(function () {  // after the first paint of the set-up page
        window.flowforgeDocs = { ready: true, setupMs: performance.now() - started, sinceStartMs: performance.now() };
        root.setAttribute("data-ready", "true");
      });
    });
  });
})();
