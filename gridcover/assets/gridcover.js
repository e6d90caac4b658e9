(function () {
"use strict";
var GC = window.GC = window.GC || {};
var ESC = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;", "`": "&#96;"};
GC.esc = function (v) {
  if (v === null || v === undefined) { return ""; }
  return String(v).replace(/[&<>"'`]/g, function (c) { return ESC[c]; });
};
GC.rows = function (rows) {
  var h = '<table class="gc-rows">';
  for (var i = 0; i < rows.length; i++) {
    var v = rows[i][1];
    if (v === null || v === undefined || v === "") { continue; }
    h += "<tr><th>" + GC.esc(rows[i][0]) + "</th><td>" + GC.esc(v) + "</td></tr>";
  }
  return h + "</table>";
};
GC.tip = function (p, fields) {
  var rows = p.r || [];
  if (p.v && fields) { rows = fields.map(function (f, i) { return [f, p.v[i]]; }); }
  return "<b>" + GC.esc(p.t) + "</b>" + GC.rows(rows);
};
GC.pane = function (map, name, z) {
  if (!map.getPane(name)) { map.createPane(name); map.getPane(name).style.zIndex = String(z); }
  return name;
};
// one canvas for every vector layer: stacked canvases would each cover the whole map and
// only the top one would get the mouse, so all layers share it, drawn in the order added
GC.renderer = function (map) {
  if (!map.gcRenderer) {
    map.gcRenderer = L.canvas({pane: GC.pane(map, "gcVectors", 450), padding: 0.3, tolerance: 2});
  }
  return map.gcRenderer;
};
function vec(map, opts) { return L.extend({renderer: GC.renderer(map), pane: "gcVectors"}, opts); }
// keep the drawing (and hit-testing) order when a layer is switched back on
GC.stack = function (map, layers) {
  map.on("overlayadd", function (e) {
    var seen = false;
    for (var i = 0; i < layers.length; i++) {
      var l = layers[i];
      if (l === e.layer) { seen = true; continue; }
      if (!seen || !map.hasLayer(l)) { continue; }
      var group = l._featureGroup || l;  // a MarkerClusterGroup draws through its inner group
      if (group.bringToFront) { group.bringToFront(); }
    }
  });
};

// polygons and lines: per-feature style index k (o.styles) or fill colour c, tooltip t + rows r
GC.geo = function (map, fc, o) {
  return L.geoJSON(fc, {
    pane: "gcVectors", renderer: GC.renderer(map),
    style: function (f) {
      var s = L.extend({}, o.style, (o.styles || [])[f.properties.k] || {});
      if (f.properties.c) { s.fillColor = f.properties.c; }
      if (f.properties.cc && map.gcMeasure !== undefined) { s.fillColor = f.properties.cc[map.gcMeasure]; }
      return s;
    },
    onEachFeature: function (f, l) {
      l.bindTooltip(function () { return GC.tip(f.properties, o.fields); }, {sticky: true, opacity: 0.95});
    }
  });
};

// grids with their leaders (网格长) ringed
GC.grids = function (map, fc, leaders, o) {
  var g = GC.geo(map, fc, o), fg = L.featureGroup([g]);
  for (var i = 0; i < leaders.length; i++) {
    fg.addLayer(L.circleMarker([leaders[i][0], leaders[i][1]], vec(map, {radius: 9,
      color: "#111", weight: 2.5, fill: false, interactive: false})));
  }
  fg.gcPolygons = g;
  return fg;
};

// party-mass service centres with their catchment circles
GC.centres = function (map, list, o) {
  var fg = L.featureGroup();
  for (var i = 0; i < list.length; i++) {
    var d = list[i];
    fg.addLayer(L.circle([d[0], d[1]], vec(map, {radius: o.radius, color: "#1b7837", weight: 1.2,
      dashArray: "4 3", fillColor: "#1b7837", fillOpacity: 0.07, interactive: false})));
    var m = L.circleMarker([d[0], d[1]], vec(map, {radius: 7, color: "#fff", weight: 2,
      fillColor: "#1b7837", fillOpacity: 1}));
    m.bindTooltip(GC.tip({t: d[2], r: d[3]}));
    fg.addLayer(m);
  }
  return fg;
};

// a canvas heat layer: weighted radial stamps coloured through a palette
GC.Heat = L.Layer.extend({
  initialize: function (pts, o) { this._pts = pts; this._o = o; },
  onAdd: function (map) {
    this._map = map;
    var pane = map.getPane(GC.pane(map, "gcHeat", 455));
    pane.style.pointerEvents = "none";
    this._c = L.DomUtil.create("canvas", "gc-heat leaflet-zoom-hide", pane);
    this._c.style.position = "absolute";
    this._c.style.pointerEvents = "none";
    map.on("moveend zoomend resize viewreset", this._draw, this);
    this._draw();
  },
  onRemove: function (map) {
    map.off("moveend zoomend resize viewreset", this._draw, this);
    L.DomUtil.remove(this._c);
    this._c = null;
  },
  _stamp: function (r) {
    if (this._st && this._stR === r) { return this._st; }
    var s = document.createElement("canvas"), g = s.getContext("2d");
    s.width = s.height = 2 * r;
    var grad = g.createRadialGradient(r, r, 0, r, r, r);
    grad.addColorStop(0, "rgba(0,0,0,1)");
    grad.addColorStop(1, "rgba(0,0,0,0)");
    g.fillStyle = grad;
    g.fillRect(0, 0, 2 * r, 2 * r);
    this._st = s; this._stR = r;
    return s;
  },
  _palette: function () {
    if (this._pal) { return this._pal; }
    var c = document.createElement("canvas"), g = c.getContext("2d");
    c.width = 256; c.height = 1;
    var grad = g.createLinearGradient(0, 0, 256, 0), st = this._o.gradient;
    for (var i = 0; i < st.length; i++) { grad.addColorStop(st[i][0], st[i][1]); }
    g.fillStyle = grad;
    g.fillRect(0, 0, 256, 1);
    this._pal = g.getImageData(0, 0, 256, 1).data;
    return this._pal;
  },
  _draw: function () {
    if (!this._map || !this._c) { return; }
    var map = this._map, size = map.getSize(), c = this._c;
    L.DomUtil.setPosition(c, map.containerPointToLayerPoint([0, 0]));
    c.width = size.x; c.height = size.y;
    if (!size.x || !size.y) { return; }
    var g = c.getContext("2d", {willReadFrequently: true});
    var R = Math.round(Math.max(6, Math.min(45, this._o.radius * Math.pow(1.3, map.getZoom() - 13))));
    var st = this._stamp(R), b = map.getBounds().pad(0.2), pts = this._pts, max = this._o.max;
    var s = b.getSouth(), n = b.getNorth(), w = b.getWest(), e = b.getEast();
    for (var i = 0; i < pts.length; i++) {
      var p = pts[i];
      if (p[0] < s || p[0] > n || p[1] < w || p[1] > e) { continue; }
      var q = map.latLngToContainerPoint([p[0], p[1]]);
      g.globalAlpha = Math.min(1, Math.max(0.08, p[2] / max));
      g.drawImage(st, q.x - R, q.y - R);
    }
    var img = g.getImageData(0, 0, size.x, size.y), d = img.data, pal = this._palette();
    for (var j = 3; j < d.length; j += 4) {
      var a = d[j];
      if (!a) { continue; }
      var k = a * 4;
      d[j - 3] = pal[k]; d[j - 2] = pal[k + 1]; d[j - 1] = pal[k + 2];
      d[j] = Math.min(255, 60 + a) * this._o.opacity;
    }
    g.putImageData(img, 0, 0);
  }
});
GC.heat = function (map, pts, o) { return new GC.Heat(pts, o); };

// enterprises: one canvas circle marker per row of a compact column table; the
// profile (一企一档) is built on click, never stored as HTML per marker
GC.enterprises = function (map, T, o) {
  var renderer = GC.renderer(map);
  var n = T.lat.length, markers = new Array(n);
  for (var i = 0; i < n; i++) {
    var m = L.circleMarker([T.lat[i], T.lon[i]], {renderer: renderer, pane: "gcVectors",
      radius: o.radii[T.z[i]], color: "#fff", weight: 0.8, fillColor: o.colors[T.s[i]], fillOpacity: 0.95});
    m.gcRow = i;
    markers[i] = m;
  }
  var layer;
  if (o.cluster) {
    layer = L.markerClusterGroup({chunkedLoading: true, showCoverageOnHover: false,
      maxClusterRadius: 60, disableClusteringAtZoom: 17, spiderfyOnMaxZoom: false,
      chunkProgress: function (done, total) { if (done >= total) { layer.gcLoaded = true; } }});
    layer.gcLoaded = n === 0;
    // add the markers once the group is on the map: before, MarkerCluster checks each new
    // marker against every pending one (quadratic: ~10 s at 100,000 points)
    var pending = markers;
    layer.on("add", function () {
      if (pending) { var todo = pending; pending = null; layer.addLayers(todo); }
    });
  } else {
    layer = L.featureGroup(markers);
    layer.gcLoaded = true;
  }
  layer.on("click", function (e) {
    var mk = e.propagatedFrom || e.layer;
    if (!mk || mk.gcRow === undefined) { return; }
    if (GC.measuring) { return; }  // the map's click handler adds the measuring point
    GC.openProfile(map, layer, mk.gcRow);
  });
  layer.gc = {table: T, markers: markers, options: o};
  return layer;
};
GC.openProfile = function (map, layer, i) {
  var m = layer.gc.markers[i];
  return L.popup({maxWidth: 460, maxHeight: 520, autoPanPaddingTopLeft: [20, 120], autoPanPaddingBottomRight: [20, 20]}).setLatLng(m.getLatLng())
    .setContent(GC.profile(layer.gc.table, i, layer.gc.options)).openOn(map);
};
GC.focus = function (map, layer, i) {
  var m = layer.gc.markers[i];
  if (layer.gc.options.cluster && map.hasLayer(layer)) {
    layer.zoomToShowLayer(m, function () { GC.openProfile(map, layer, i); });
  } else {
    map.setView(m.getLatLng(), Math.max(map.getZoom(), 16));
    GC.openProfile(map, layer, i);
  }
};
GC.members = function (T, i) {
  if (!T.bidx) {
    T.bidx = {};
    var c = T.c.branch;
    for (var j = 0; j < c.length; j++) { (T.bidx[c[j]] = T.bidx[c[j]] || []).push(j); }
  }
  var out = [], rows = T.bidx[T.c.branch[i]] || [];
  for (var r = 0; r < rows.length; r++) { out.push(T.name[rows[r]]); }
  return out;
};
GC.profile = function (T, i, o) {
  var f = T.f ? T.f[i] : 0;
  function cat(col) { var c = T.c[col]; return c ? T.d[col][c[i]] : ""; }
  function col(name) { var c = T[name]; return c ? c[i] : ""; }
  function yn(bit) { return (f & bit) ? "是" : "否"; }
  var st = T.s[i];
  var h = '<div class="gc-profile"><div class="gc-name">' + GC.esc(T.name[i]) + "</div>" +
    '<span class="gc-badge" style="background:' + o.colors[st] + ";color:" + o.ink[st] + '">' + GC.esc(o.labels[st]) + "</span>";
  // the plan and the gaps first: a planner reads them without scrolling the popup
  var grid = cat("grid"), br = cat("branch");
  var plan = [["拟采取措施", cat("action")],
    ["网格", grid ? grid + ((f & 256) ? "（本企业为网格长）" : "") : "未入网格"]];
  if (br) {
    var b = (o.branches || [])[T.c.branch[i]] || [];
    plan.push(["联合党支部", br + (b[0] ? "（" + b[0] + "）" : "")]);
    if (T.c.branch) { plan.push(["支部单位", GC.members(T, i).join("、")]); }
    if (b[1] !== undefined) { plan.push(["支部正式党员", b[1]]); }
  }
  plan.push(["拟派指导员", (T.asg && T.asg[i]) || ""]);
  h += '<div class="gc-section gc-plan">规划</div>' + GC.rows(plan);
  var gaps = cat("gaps");
  if (T.c.gaps) {
    h += '<div class="gc-section">问题清单</div>';
    if (!gaps) { h += '<div class="gc-gap">无</div>'; }
    else {
      var ids = gaps.split(";"), msgs = (T.gm && T.gm[i]) || [];
      for (var g = 0; g < ids.length; g++) {
        h += '<div class="gc-gap"><b>' + GC.esc(ids[g]) + "</b> " + GC.esc(o.rules[ids[g]] || "") +
          (msgs[g] ? '<br><span class="gc-msg">' + GC.esc(msgs[g]) + "</span>" : "") + "</div>";
      }
    }
  }
  var rows = [["统一社会信用代码", col("id")], ["地址", col("addr")], ["管理单位", cat("unit")],
    ["乡镇（街道）", cat("township")], ["村（社区）", cat("village")], ["园区", cat("park")],
    ["行业", cat("industry")], ["职工人数", col("staff")], ["规模", cat("size")],
    ["正式党员", col("members")], ["预备党员", col("prob")]];
  if (T.f) {
    rows.push(["有固定经营场所", yn(1)], ["规上企业", yn(2)], ["出资人是党员", (f & 8) ? yn(4) : "未填"]);
  }
  rows.push(["党组织组建方式", cat("org")], ["所在党组织", cat("orgname")],
    ["党建工作指导员", cat("instructor")], ["定位精度", cat("precision")]);
  h += '<div class="gc-section">一企一档</div>' + GC.rows(rows);
  if (T.f) {
    h += GC.rows([["党组织覆盖（规划前→后）", yn(16) + " → " + yn(32)],
      ["党的工作覆盖（规划前→后）", yn(64) + " → " + yn(128)]]);
  }
  if (o.unitLinks && T.c.unit) {
    var href = o.unitLinks[T.c.unit[i]];
    if (href) {
      h += '<div class="gc-section"><a href="' + GC.esc(href) + '" target="_blank">完整一企一档：' +
        GC.esc(cat("unit")) + "分单位地图</a></div>";
    }
  }
  return h + "</div>";
};

// controls -----------------------------------------------------------------------------
GC.title = function (map, html) {
  var div = L.DomUtil.create("div", "gc-title", map.getContainer());
  div.innerHTML = html;  // built and escaped in Python
  return div;
};
GC.legend = function (map, html) {
  var C = L.Control.extend({options: {position: "bottomright"}, onAdd: function () {
    var div = L.DomUtil.create("div", "gc-legend");
    div.innerHTML = html;  // built and escaped in Python
    L.DomEvent.disableScrollPropagation(div);
    return div;
  }});
  return new C().addTo(map);
};
GC.search = function (map, layer) {
  var T = layer.gc.table, lower = null;
  var C = L.Control.extend({options: {position: "topleft"}, onAdd: function () {
    var div = L.DomUtil.create("div", "gc-search leaflet-bar");
    var input = L.DomUtil.create("input", "", div);
    input.type = "search";
    input.placeholder = "搜索企业名称";
    input.setAttribute("aria-label", "搜索企业名称");
    var list = L.DomUtil.create("ul", "", div);
    L.DomEvent.disableClickPropagation(div);
    L.DomEvent.disableScrollPropagation(div);
    function clear() { while (list.firstChild) { list.removeChild(list.firstChild); } }
    input.addEventListener("input", function () {
      clear();
      var q = input.value.trim().toLowerCase();
      if (!q) { return; }
      if (!lower) { lower = T.name.map(function (s) { return String(s).toLowerCase(); }); }
      var hits = 0;
      for (var i = 0; i < lower.length && hits < 12; i++) {
        if (lower[i].indexOf(q) >= 0) {
          var li = L.DomUtil.create("li", "", list);
          li.textContent = T.name[i] + (T.c.unit ? "（" + T.d.unit[T.c.unit[i]] + "）" : "");
          li.setAttribute("data-row", String(i));
          hits++;
        }
      }
      if (!hits) { L.DomUtil.create("li", "gc-none", list).textContent = "无匹配企业"; }
    });
    // a hit opens the profile; the click must not reach the map, whose click handler
    // closes popups (Leaflet checks the clicked element's ancestors, and the hit list is
    // emptied before the event arrives there, so propagation is stopped here)
    function open(r) {
      clear();
      input.value = T.name[r];
      GC.focus(map, layer, r);
    }
    input.addEventListener("keydown", function (e) {
      L.DomEvent.stopPropagation(e);  // the map's keyboard handler would pan or close the popup
      if (e.key === "Enter") {
        L.DomEvent.preventDefault(e);
        var first = list.querySelector("li[data-row]");
        if (first) { open(+first.getAttribute("data-row")); }
      }
      if (e.key === "Escape") { input.value = ""; clear(); }
    });
    list.addEventListener("click", function (e) {
      L.DomEvent.stop(e);
      var li = e.target.closest ? e.target.closest("li[data-row]") : e.target;
      var r = li ? li.getAttribute("data-row") : null;
      if (r === null) { return; }
      open(+r);
    });
    return div;
  }});
  return new C().addTo(map);
};
GC.button = function (map, text, title, onclick) {
  var C = L.Control.extend({options: {position: "topleft"}, onAdd: function () {
    var div = L.DomUtil.create("div", "leaflet-bar gc-btn");
    var a = L.DomUtil.create("a", "", div);
    a.href = "#";
    a.title = title;
    a.setAttribute("role", "button");
    a.textContent = text;
    L.DomEvent.disableClickPropagation(div);
    L.DomEvent.on(a, "click", function (e) { L.DomEvent.preventDefault(e); onclick(a); });
    return div;
  }});
  return new C().addTo(map);
};
GC.fullscreen = function (map) {
  var el = map.getContainer(), pseudo = false;
  function label(a) {
    var on = !!document.fullscreenElement || pseudo;
    a.textContent = on ? "退出全屏" : "全屏";
    L.DomUtil[on ? "addClass" : "removeClass"](a, "gc-on");
  }
  var ctl = GC.button(map, "全屏", "全屏显示地图", function (a) {
    if (document.fullscreenElement) { document.exitFullscreen(); return; }
    if (pseudo) { pseudo = false; L.DomUtil.removeClass(el, "gc-pseudo-full"); map.invalidateSize(); label(a); return; }
    var usePseudo = function () {
      pseudo = true; L.DomUtil.addClass(el, "gc-pseudo-full"); map.invalidateSize(); label(a);
    };
    if (el.requestFullscreen) { el.requestFullscreen().catch(usePseudo); } else { usePseudo(); }
  });
  document.addEventListener("fullscreenchange", function () {
    label(ctl.getContainer().firstChild);
    map.invalidateSize();
  });
  return ctl;
};
GC.measure = function (map) {
  var pts = [], line = null, label = null;
  function fmt(m) { return m >= 1000 ? (m / 1000).toFixed(2) + " 公里" : Math.round(m) + " 米"; }
  function reset() {
    pts = [];
    if (line) { map.removeLayer(line); line = null; }
    if (label) { map.removeLayer(label); label = null; }
  }
  function add(e) {
    pts.push(e.latlng);
    var d = 0;
    for (var i = 1; i < pts.length; i++) { d += map.distance(pts[i - 1], pts[i]); }
    if (!line) {
      line = L.polyline(pts, {color: "#d35400", weight: 3, dashArray: "6 4", interactive: false}).addTo(map);
    } else { line.setLatLngs(pts); }
    if (!label) {
      label = L.tooltip({permanent: true, direction: "right", className: "gc-measure-label"});
      label.setLatLng(e.latlng).setContent(fmt(d)).addTo(map);
    } else { label.setLatLng(e.latlng).setContent(fmt(d)); }
    GC.measured = d;
  }
  function onMap(e) { if (GC.measuring) { add(e); } }
  map.on("click", onMap);
  return GC.button(map, "测距", "点击地图逐点量测距离，再点此按钮结束", function (a) {
    if (GC.measuring) {
      GC.measuring = null;
      map.doubleClickZoom.enable();
      a.textContent = "测距";
      L.DomUtil.removeClass(a, "gc-on");
      map.getContainer().style.cursor = "";
    } else {
      reset();
      GC.measured = 0;
      GC.measuring = true;
      map.doubleClickZoom.disable();
      a.textContent = "结束测距";
      L.DomUtil.addClass(a, "gc-on");
      map.getContainer().style.cursor = "crosshair";
    }
  });
};

// unit names with the rate of the chosen measure, always visible (not on hover only)
GC.pct = function (r) { return (r === null || r === undefined) ? "无企业" : (100 * r).toFixed(1) + "%"; };
GC.labels = function (map, units, o) {
  var fg = L.featureGroup(), spans = [];
  for (var i = 0; i < units.length; i++) {
    var u = units[i];
    var div = L.DomUtil.create("div", "gc-unit-label gc-unit-" + u.type);
    var b = L.DomUtil.create("b", "", div), span = L.DomUtil.create("span", "", div);
    b.textContent = u.name;
    span.textContent = GC.pct(u.rate[o.measure]);
    spans.push(span);
    fg.addLayer(L.marker(u.at, {icon: L.divIcon({className: "gc-unit-icon", html: div, iconSize: [130, 34],
      iconAnchor: [65, 17]}), interactive: false, keyboard: false}));
  }
  fg.gcUnits = units;
  fg.gcSpans = spans;
  fg.gcShow = function (k) {
    for (var j = 0; j < spans.length; j++) { spans[j].textContent = GC.pct(units[j].rate[k]); }
  };
  return fg;
};

// one layer per gap rule: rings on the enterprises showing it, its count per unit as a badge
GC.gaps = function (map, pts, badges, o) {
  var fg = L.featureGroup();
  for (var i = 0; i < pts.length; i++) {
    fg.addLayer(L.circleMarker(pts[i], vec(map, {radius: 8, color: o.color, weight: 2, fill: false,
      interactive: false})));
  }
  fg.gcBadges = [];
  for (var j = 0; j < badges.length; j++) {
    var d = badges[j];
    var html = '<span class="gc-gap-count" style="border-color:' + o.color + ";color:" + o.color + '">' +
      GC.esc(o.rule) + " " + d[2] + "</span>";
    var mk = L.marker([d[0], d[1]], {icon: L.divIcon({className: "gc-gap-icon", html: html,
      iconSize: [64, 18], iconAnchor: [32, -18 - 19 * o.slot]}), interactive: false, keyboard: false});
    mk.gcCount = d[2];
    fg.addLayer(mk);
    fg.gcBadges.push(mk);
  }
  fg.gcRule = o.rule;
  return fg;
};

// the measure switch (M1/M2, before/after) and the units ranked by their gap to the target
GC.ranking = function (map, units, geoLayers, labels, o) {
  map.gcMeasure = o.measure;
  function gap(u, k) {
    if (!u.n) { return 0; }
    return Math.max(0, Math.ceil(o.targets[k] * u.n - 1e-9) - u.covered[k]);
  }
  var C = L.Control.extend({options: {position: "bottomleft"}, onAdd: function () {
    var div = L.DomUtil.create("div", "gc-ranking");
    L.DomEvent.disableClickPropagation(div);
    L.DomEvent.disableScrollPropagation(div);
    var head = L.DomUtil.create("div", "gc-measures", div);
    for (var k = 0; k < o.measures.length; k++) {
      var lab = L.DomUtil.create("label", "", head);
      var input = L.DomUtil.create("input", "", lab);
      input.type = "radio"; input.name = "gc-measure"; input.value = String(k);
      input.checked = k === o.measure;
      lab.appendChild(document.createTextNode(o.measures[k]));
      input.addEventListener("change", function (e) { GC.setMeasure(map, +e.target.value); });
    }
    L.DomUtil.create("b", "", div).textContent = o.title;
    var table = L.DomUtil.create("table", "gc-rank", div);
    map.gcRank = function (k) {
      var order = units.map(function (u, i) { return i; });
      order.sort(function (a, b) {
        var d = gap(units[b], k) - gap(units[a], k);
        if (d) { return d; }
        var ra = units[a].rate[k] === null ? 2 : units[a].rate[k], rb = units[b].rate[k] === null ? 2 : units[b].rate[k];
        return ra - rb || (units[a].name < units[b].name ? -1 : 1);
      });
      var h = "<tr><th>单位</th><th>覆盖率</th><th>距" + (100 * o.targets[k]).toFixed(0) + "%差（家）</th></tr>";
      for (var r = 0; r < order.length; r++) {
        var u = units[order[r]];
        h += '<tr data-unit="' + order[r] + '"><td>' + GC.esc(u.name) + "</td><td>" + GC.pct(u.rate[k]) +
          "</td><td>" + gap(u, k) + "</td></tr>";
      }
      table.innerHTML = h;
    };
    table.addEventListener("click", function (e) {
      var tr = e.target.closest ? e.target.closest("tr[data-unit]") : null;
      if (tr) { map.fitBounds(units[+tr.getAttribute("data-unit")].bounds, {padding: [20, 20]}); }
    });
    map.gcRank(o.measure);
    return div;
  }});
  GC.setMeasure = function (m, k) {
    m.gcMeasure = k;
    for (var i = 0; i < geoLayers.length; i++) {
      var g = geoLayers[i];
      g.eachLayer(function (l) { g.resetStyle(l); });
    }
    labels.gcShow(k);
    if (m.gcRank) { m.gcRank(k); }
    var radios = m.getContainer().querySelectorAll("input[name=gc-measure]");
    for (var j = 0; j < radios.length; j++) { radios[j].checked = +radios[j].value === k; }
  };
  return new C().addTo(map);
};

// no base map: a plain ground and a word why
GC.offlineNote = function (map, text) {
  L.DomUtil.addClass(map.getContainer(), "gc-offline");
  var div = L.DomUtil.create("div", "gc-offline-note", map.getContainer());
  div.textContent = text;
  return div;
};
})();
