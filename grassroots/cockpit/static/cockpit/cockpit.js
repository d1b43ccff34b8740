// The city brain's charts (ECharts 5.6.0, vendored) and the small behaviours of its pages.
//
// No inline scripts: every page hands over its URLs and translated words in data-* attributes of the
// element marked [data-cockpit]; the numbers come from one request to data.json, refetched every
// minute, and the children's shapes from geo.json (fetched once). The key figures and the children
// table are server-rendered partials refreshed by htmx; this file only sorts the table.
(function () {
  "use strict";

  var COLOURS = { red: "#d7263d", orange: "#f28c28", yellow: "#e9b824", blue: "#2e86de", green: "#2ca25f" };
  var GOOD_TO_BAD = ["#1a9850", "#a6d96a", "#fee08b", "#fdae61", "#d73027"];

  function lang() {
    return document.documentElement.lang || "zh-hans";
  }

  function format(meta, value) {
    if (value === null || value === undefined) return null;
    if (meta.unit === "rate") return (value * 100).toFixed(1) + "%";
    if (meta.unit === "score") return value.toFixed(2);
    var grouped = lang().indexOf("zh") !== 0;
    return Math.round(value).toLocaleString(grouped ? "en" : "zh-CN", { useGrouping: grouped });
  }

  // --- period selector and sortable tables (every page) ------------------------------------------

  document.addEventListener("change", function (event) {
    var select = event.target.closest("[data-autosubmit]");
    if (select && select.form) select.form.submit();
    var jump = event.target.closest("[data-period-jump]");
    if (jump && jump.value) window.location.href = jump.value;
  });

  function sortTable(table, index, descending) {
    var body = table.tBodies[0];
    if (!body) return;
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = a.cells[index].getAttribute("data-value");
      var y = b.cells[index].getAttribute("data-value");
      var nx = x === null || x === "" ? null : Number(x);
      var ny = y === null || y === "" ? null : Number(y);
      if (nx === null || isNaN(nx) || ny === null || isNaN(ny)) {
        if ((nx === null || isNaN(nx)) && (ny === null || isNaN(ny))) {
          return a.cells[index].textContent.localeCompare(b.cells[index].textContent) * (descending ? -1 : 1);
        }
        return nx === null || isNaN(nx) ? 1 : -1; // no data last, whichever the direction
      }
      return descending ? ny - nx : nx - ny;
    });
    rows.forEach(function (row) { body.appendChild(row); });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (cell, i) {
      if (i === index) cell.setAttribute("aria-sort", descending ? "descending" : "ascending");
      else cell.removeAttribute("aria-sort");
    });
    table.setAttribute("data-sorted", index + ":" + (descending ? "desc" : "asc"));
  }

  var tableSort = {}; // remembered across htmx refreshes, by table id

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-sort]");
    if (!button) return;
    var cell = button.closest("th");
    var table = button.closest("table");
    var index = Array.prototype.indexOf.call(cell.parentNode.cells, cell);
    var descending = cell.getAttribute("aria-sort") !== "descending";
    sortTable(table, index, descending);
    if (table.id) tableSort[table.id] = [index, descending];
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    Object.keys(tableSort).forEach(function (id) {
      var table = document.getElementById(id);
      if (table && event.detail.target.contains(table)) sortTable(table, tableSort[id][0], tableSort[id][1]);
    });
  });

  // --- the charts ------------------------------------------------------------------------------------

  function Cockpit(root) {
    this.root = root;
    this.dataUrl = root.getAttribute("data-data-url");
    this.geoUrl = root.getAttribute("data-geo-url");
    this.nodeUrl = root.getAttribute("data-node-url");
    this.wall = root.hasAttribute("data-wall");
    this.seconds = Number(root.getAttribute("data-refresh") || 60);
    this.i18n = JSON.parse(root.getAttribute("data-i18n") || "{}");
    this.indicator = root.getAttribute("data-indicator");
    this.select = root.querySelector("[data-indicator-select]");
    this.charts = {};
    this.data = null;
    this.geo = null;
    var self = this;
    if (this.select) {
      this.select.value = this.indicator;
      this.select.addEventListener("change", function () {
        self.indicator = self.select.value;
        self.draw();
      });
    }
    window.addEventListener("resize", function () {
      Object.keys(self.charts).forEach(function (key) { self.charts[key].resize(); });
    });
  }

  Cockpit.prototype.chart = function (name) {
    var element = this.root.querySelector("[data-chart=" + name + "]");
    if (!element) return null;
    if (!this.charts[name]) {
      this.charts[name] = window.echarts.init(element, this.wall ? "dark" : null, { renderer: "canvas" });
    }
    return this.charts[name];
  };

  Cockpit.prototype.open = function (code) {
    window.location.href = this.nodeUrl.replace("__CODE__", code);
  };

  Cockpit.prototype.meta = function (code) {
    var found = null;
    (this.data ? this.data.indicators : []).forEach(function (meta) { if (meta.code === code) found = meta; });
    return found;
  };

  Cockpit.prototype.start = function () {
    var self = this;
    var geo = this.geoUrl
      ? fetch(this.geoUrl, { credentials: "same-origin" }).then(function (r) { return r.ok ? r.json() : null; })
      : Promise.resolve(null);
    Promise.all([this.fetchData(), geo]).then(function (results) {
      self.geo = results[1];
      self.draw();
      self.root.setAttribute("data-ready", "true");
    });
    window.setInterval(function () {
      if (document.visibilityState === "hidden") return;
      self.fetchData().then(function () { self.draw(); });
    }, this.seconds * 1000);
  };

  Cockpit.prototype.fetchData = function () {
    var self = this;
    return fetch(this.dataUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : self.data; })
      .then(function (data) { self.data = data; return data; })
      .catch(function () { return self.data; });
  };

  Cockpit.prototype.set = function (chart, option) {
    if (this.wall) option.backgroundColor = "transparent";
    chart.setOption(option, true);
  };

  Cockpit.prototype.draw = function () {
    if (!this.data) return;
    var meta = this.meta(this.indicator) || this.data.indicators[0];
    this.drawMap(meta);
    this.drawRanking(meta);
    this.drawTrend(meta);
    this.drawColours();
  };

  Cockpit.prototype.scale = function (meta, values) {
    var present = values.filter(function (v) { return v !== null && v !== undefined; });
    var min = present.length ? Math.min.apply(null, present) : 0;
    var max = present.length ? Math.max.apply(null, present) : 1;
    if (min === max) { max = min + (meta.unit === "rate" ? 0.01 : 1); }
    var colours = meta.direction === "lower" ? GOOD_TO_BAD : GOOD_TO_BAD.slice().reverse();
    return { min: min, max: max, colours: colours };
  };

  function colourAt(scale, value) {
    if (value === null || value === undefined) return "#9aa4ae";
    var t = Math.max(0, Math.min(1, (value - scale.min) / (scale.max - scale.min)));
    return scale.colours[Math.min(scale.colours.length - 1, Math.floor(t * (scale.colours.length - 1) + 0.5))];
  }

  Cockpit.prototype.drawMap = function (meta) {
    var chart = this.chart("map");
    if (!chart) return;
    var self = this;
    var children = this.data.children;
    var names = {};
    children.forEach(function (child) { names[child.code] = child.name; });
    var values = children.map(function (child) { return child.values[meta.code]; });
    var scale = this.scale(meta, values);
    var note = this.root.querySelector("[data-map-note]");
    var kind = this.geo && this.geo.features && this.geo.features.length ? this.geo.kind : "none";
    if (note) note.textContent = this.i18n[kind === "none" ? "treemap" : kind] || "";
    var noData = this.i18n.noData || "no data";
    var tooltip = {
      trigger: "item",
      formatter: function (params) {
        var code = params.data ? params.data.code : params.name;
        var shown = format(meta, params.data ? params.data.raw : null);
        return (names[code] || params.name) + "<br>" + meta.name + ": " + (shown === null ? noData : shown);
      },
    };
    if (kind === "none") {
      this.set(chart, {
        tooltip: tooltip,
        series: [{
          type: "treemap",
          roam: false,
          nodeClick: false,
          breadcrumb: { show: false },
          width: "100%",
          height: "100%",
          label: { show: true, formatter: "{b}" },
          data: children.map(function (child) {
            var value = child.values[meta.code];
            return {
              name: child.name,
              code: child.code,
              raw: value,
              value: 1,
              itemStyle: { color: colourAt(scale, value), borderColor: "#fff", borderWidth: 1 },
            };
          }),
        }],
      });
    } else {
      var mapName = "cockpit-" + this.data.node.code;
      if (!window.echarts.getMap(mapName)) window.echarts.registerMap(mapName, this.geo);
      this.set(chart, {
        tooltip: tooltip,
        visualMap: {
          type: "continuous",
          min: scale.min,
          max: scale.max,
          calculable: false,
          orient: "horizontal",
          left: "center",
          bottom: 4,
          itemHeight: 120,
          text: [format(meta, scale.max), format(meta, scale.min)],
          inRange: { color: scale.colours },
          outOfRange: { color: "#9aa4ae" },
          textStyle: { color: this.wall ? "#d0d7de" : "#1f2328" },
        },
        series: [{
          type: "map",
          map: mapName,
          nameProperty: "code",
          roam: false,
          layoutCenter: ["50%", "48%"],
          layoutSize: "92%",
          selectedMode: false,
          label: {
            show: true,
            fontSize: this.wall ? 14 : 11,
            color: this.wall ? "#fff" : "#1f2328",
            formatter: function (params) { return names[params.name] || ""; },
          },
          itemStyle: { borderColor: this.wall ? "#0d1117" : "#fff", borderWidth: 1, areaColor: "#d0d7de" },
          emphasis: { label: { show: true }, itemStyle: { areaColor: "#ffd33d" } },
          data: children.map(function (child) {
            var value = child.values[meta.code];
            return { name: child.code, code: child.code, raw: value, value: value === null ? NaN : value };
          }),
        }],
      });
    }
    chart.off("click");
    chart.on("click", function (params) {
      var code = params.data && params.data.code;
      if (code) self.open(code);
    });
  };

  Cockpit.prototype.drawRanking = function (meta) {
    var chart = this.chart("ranking");
    if (!chart) return;
    var self = this;
    var rows = this.data.children
      .map(function (child) { return { code: child.code, name: child.name, value: child.values[meta.code] }; })
      .filter(function (row) { return row.value !== null && row.value !== undefined; });
    // Best at the top: ECharts draws a category axis bottom-up, so sort worst first.
    var lowerBetter = meta.direction === "lower";
    rows.sort(function (a, b) { return lowerBetter ? b.value - a.value : a.value - b.value; });
    var scale = this.scale(meta, rows.map(function (row) { return row.value; }));
    var missing = this.data.children.length - rows.length;
    this.set(chart, {
      grid: { left: 8, right: 56, top: 24, bottom: missing ? 28 : 8, containLabel: true },
      title: missing ? {
        text: missing + " × " + (this.i18n.noData || "no data"),
        bottom: 0,
        left: "center",
        textStyle: { fontSize: 11, fontWeight: "normal", color: "#8c959f" },
      } : undefined,
      tooltip: {
        trigger: "axis",
        axisPointer: { type: "shadow" },
        formatter: function (params) {
          var row = rows[params[0].dataIndex];
          return row.name + "<br>" + meta.name + ": " + format(meta, row.value);
        },
      },
      xAxis: {
        type: "value",
        axisLabel: { formatter: function (v) { return meta.unit === "rate" ? Math.round(v * 100) + "%" : v; } },
      },
      yAxis: { type: "category", data: rows.map(function (row) { return row.name; }), axisLabel: { fontSize: this.wall ? 13 : 11 } },
      series: [{
        type: "bar",
        data: rows.map(function (row) {
          return { value: row.value, code: row.code, itemStyle: { color: colourAt(scale, row.value) } };
        }),
        label: { show: true, position: "right", formatter: function (p) { return format(meta, p.value); } },
        barMaxWidth: 22,
      }],
    });
    chart.off("click");
    chart.on("click", function (params) { if (params.data && params.data.code) self.open(params.data.code); });
  };

  Cockpit.prototype.drawTrend = function (meta) {
    var chart = this.chart("trend");
    if (!chart) return;
    var trend = this.data.trend;
    var values = trend.values[meta.code] || [];
    var empty = values.every(function (v) { return v === null || v === undefined; });
    this.set(chart, {
      title: empty ? {
        text: this.i18n.noTrend || "",
        left: "center",
        top: "middle",
        textStyle: { fontSize: 13, fontWeight: "normal", color: "#8c959f" },
      } : undefined,
      grid: { left: 8, right: 32, top: 28, bottom: 8, containLabel: true },
      tooltip: {
        trigger: "axis",
        formatter: function (params) {
          var shown = format(meta, params[0].value);
          return params[0].axisValue + "<br>" + meta.name + ": " + (shown === null ? "—" : shown);
        },
      },
      xAxis: { type: "category", data: trend.months, boundaryGap: false },
      yAxis: {
        type: "value",
        scale: meta.unit !== "count",
        axisLabel: { formatter: function (v) { return meta.unit === "rate" ? Math.round(v * 100) + "%" : v; } },
      },
      series: [{
        type: "line",
        name: meta.name,
        data: values,
        connectNulls: false,
        smooth: false,
        symbolSize: 7,
        lineStyle: { width: 3 },
        itemStyle: { color: this.wall ? "#58a6ff" : "#b3261e" },
        areaStyle: { opacity: 0.08 },
      }],
    });
  };

  Cockpit.prototype.drawColours = function () {
    var chart = this.chart("colours");
    if (!chart) return;
    var self = this;
    var children = this.data.children;
    var labels = this.i18n.colours || {};
    this.set(chart, {
      legend: { top: 0, textStyle: { color: this.wall ? "#d0d7de" : "#1f2328" } },
      grid: { left: 8, right: 16, top: 32, bottom: 8, containLabel: true },
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      xAxis: {
        type: "category",
        data: children.map(function (child) { return child.name; }),
        axisLabel: { interval: 0, rotate: children.length > 6 ? 35 : 0, fontSize: this.wall ? 12 : 10 },
      },
      yAxis: { type: "value", minInterval: 1 },
      series: Object.keys(COLOURS).map(function (colour) {
        return {
          type: "bar",
          name: labels[colour] || colour,
          stack: "colours",
          itemStyle: { color: COLOURS[colour] },
          barMaxWidth: 36,
          data: children.map(function (child) {
            return { value: child.values["disputes." + colour] || 0, code: child.code };
          }),
        };
      }),
    });
    chart.off("click");
    chart.on("click", function (params) { if (params.data && params.data.code) self.open(params.data.code); });
  };

  // --- the wall's clock --------------------------------------------------------------------------------

  function tick() {
    document.querySelectorAll("[data-clock]").forEach(function (element) {
      var options = {
        year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit",
      };
      var zone = element.getAttribute("data-clock");
      if (zone) options.timeZone = zone; // the city's time, whatever the display's clock is set to
      try {
        element.textContent = new Date().toLocaleString(lang().indexOf("zh") === 0 ? "zh-CN" : "en-GB", options);
      } catch (error) {
        delete options.timeZone;
        element.textContent = new Date().toLocaleString(undefined, options);
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-cockpit]").forEach(function (root) {
      if (!window.echarts) return;
      var cockpit = new Cockpit(root);
      root.cockpit = cockpit;
      cockpit.start();
    });
    if (document.querySelector("[data-clock]")) {
      tick();
      window.setInterval(tick, 1000);
    }
  });
})();
