/* What every parcel map shares (window.ParcelMaps): a Leaflet map with no base layer unless the server names a tile
 * URL (data-tile-url), framed on the book's parcels (data-extent "west,south,east,north"), and a layer of the parcels
 * in view fetched from the API (data-parcels-url) whenever the view moves. Parcels flagged "possible double pledge"
 * are drawn red. Nothing here reaches beyond this site unless a tile URL is configured. */
(function () {
  "use strict";
  var L = window.L;

  var PLAIN = { color: "#1f5fa8", weight: 1, opacity: 0.9, fillColor: "#1f5fa8", fillOpacity: 0.18 };
  var FLAGGED = { color: "#b71c1c", weight: 2, opacity: 1, fillColor: "#e53935", fillOpacity: 0.5 };

  function bounds(text) {
    var v = (text || "").split(",").map(Number);
    if (v.length !== 4 || !v.every(isFinite)) {
      return null;
    }
    return L.latLngBounds([v[1], v[0]], [v[3], v[2]]);
  }

  function create(el) {
    var map = L.map(el, { attributionControl: false, zoomSnap: 0.25, worldCopyJump: false });
    var tiles = el.getAttribute("data-tile-url");
    if (tiles) {
      L.tileLayer(tiles, { maxZoom: 19 }).addTo(map);
    } else {
      el.classList.add("no-tiles");
    }
    L.control.scale({ imperial: false }).addTo(map);
    var focus = bounds(el.getAttribute("data-focus"));
    var extent = bounds(el.getAttribute("data-extent"));
    if (focus) {
      // One parcel and its street: a few times its size, at least a few hundred metres across.
      var c = focus.getCenter();
      var span = Math.max((focus.getNorth() - focus.getSouth()) * 2, 0.0015);
      map.fitBounds(L.latLngBounds([c.lat - span, c.lng - span], [c.lat + span, c.lng + span]));
    } else if (extent) {
      map.fitBounds(extent, { padding: [8, 8] });
    } else {
      map.setView([0, 0], 2);
    }
    return map;
  }

  function clamp(v, lo, hi) {
    return Math.min(Math.max(v, lo), hi);
  }

  function boxQuery(map) {
    var b = map.getBounds();
    return "min_lon=" + clamp(b.getWest(), -180, 180).toFixed(6) +
      "&min_lat=" + clamp(b.getSouth(), -90, 90).toFixed(6) +
      "&max_lon=" + clamp(b.getEast(), -180, 180).toFixed(6) +
      "&max_lat=" + clamp(b.getNorth(), -90, 90).toFixed(6);
  }

  /* options: interactive (popups with a link to the asset), onLoad(data), onError(status) */
  function parcelLayer(map, el, options) {
    options = options || {};
    var focusRef = el.getAttribute("data-focus-ref") || "";
    var layer = L.geoJSON(null, {
      interactive: !!options.interactive,
      style: function (feature) {
        var flagged = feature.properties.possible_double_pledge;
        var style = L.extend({}, flagged ? FLAGGED : PLAIN);
        style.className = flagged ? "map-parcel map-parcel-flagged" : "map-parcel";
        if (focusRef && feature.properties.ref === focusRef) {
          style.weight = 3;
          style.className += " map-parcel-focus";
        }
        return style;
      },
      onEachFeature: function (feature, item) {
        item.on("add", function () {
          var path = item.getElement();
          if (path) {
            path.setAttribute("data-ref", feature.properties.ref);
          }
        });
        if (options.interactive) {
          item.bindPopup(function () { return popup(feature.properties); });
        }
        if (focusRef && feature.properties.ref === focusRef) {
          item.bindTooltip(feature.properties.ref, { permanent: true, direction: "top", className: "map-focus-label" });
        }
      }
    }).addTo(map);
    var latest = 0;
    function load() {
      var mine = ++latest;
      var url = el.getAttribute("data-parcels-url") + "?" + boxQuery(map) + "&limit=" + el.getAttribute("data-limit");
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
        .then(function (data) {
          if (mine !== latest) {
            return;
          }
          layer.clearLayers();
          layer.addData(data);
          layer.eachLayer(function (item) {
            if (item.feature.properties.possible_double_pledge) {
              item.bringToFront();
            }
          });
          el.setAttribute("data-loaded", String(data.features.length));
          if (options.onLoad) {
            options.onLoad(data);
          }
        })
        .catch(function (status) {
          if (mine === latest && options.onError) {
            options.onError(status);
          }
        });
    }
    map.on("moveend", load);
    load();
    return layer;
  }

  function text(tag, value, className) {
    var node = document.createElement(tag);
    node.textContent = value;
    if (className) {
      node.className = className;
    }
    return node;
  }

  function popup(p) {
    var box = document.createElement("div");
    box.className = "map-popup";
    var link = text("a", "Open asset " + p.ref);
    link.href = "/assets/" + encodeURIComponent(p.ref);
    box.appendChild(link);
    box.appendChild(text("div", p.owner_name));
    box.appendChild(text("div", p.kind.replace(/_/g, " ") + " · " + p.status.replace(/_/g, " "), "muted"));
    if (p.possible_double_pledge) {
      box.appendChild(text("div", "Possible double pledge", "badge flag-double-pledge"));
    }
    return box;
  }

  window.ParcelMaps = { create: create, parcelLayer: parcelLayer };
})();
