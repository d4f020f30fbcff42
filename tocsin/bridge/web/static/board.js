// Live countdowns and self-refreshing pages. No inline script anywhere: the page's CSP
// allows only this file, so nothing an alert carries can run.
//
// A 24x7 clock counts down each second from its due instant. A business-hours clock (data-left)
// holds the server's business time left at data-at; it goes down only until data-until, the end
// of the working hours counting then (absent outside them), and stands still after that until a
// refresh brings a new figure: wall time outside working hours is no time spent.
//
// Every element with an id and data-refresh="N" is replaced each N seconds by the element of the
// same id on a fresh copy of the page, skipped while the tab is hidden. One with data-version
// sends it as If-None-Match: a page that has not changed answers 304 with no body. One that also has
// data-keep-while-editing (the incident's action forms) is left alone while one of its fields
// has focus or holds something typed or chosen; its open/closed sections carry over.
(function () {
  "use strict";

  var body = document.body;
  var units = (body.getAttribute("data-units") || "d,h,m,s").split(",");
  var overdue = body.getAttribute("data-overdue") || "overdue";
  var offHours = body.getAttribute("data-off-hours") || "";
  var offset = 0; // server clock minus browser clock, so a wrong laptop clock misleads no one

  function syncClock(serverNow) {
    var parsed = Date.parse(serverNow || "");
    if (!isNaN(parsed)) {
      offset = parsed - Date.now();
    }
  }

  function now() {
    return Date.now() + offset;
  }

  function pad(n) {
    return n < 10 ? "0" + n : String(n);
  }

  // Business time reads in hours: a 24-hour "day" of working hours is no day anyone works.
  function format(seconds, hoursOnly) {
    var total = Math.floor(Math.abs(seconds));
    var days = hoursOnly ? 0 : Math.floor(total / 86400);
    var hours = Math.floor((total - days * 86400) / 3600);
    var minutes = Math.floor((total % 3600) / 60);
    var secs = total % 60;
    var sign = seconds < 0 ? "-" : "";
    if (days) {
      return sign + days + units[0] + " " + hours + units[1];
    }
    if (hours) {
      return sign + hours + units[1] + " " + pad(minutes) + units[2];
    }
    return sign + minutes + units[2] + " " + pad(secs) + units[3];
  }

  function setState(el, state) {
    ["state-ok", "state-warning", "state-breached"].forEach(function (name) {
      el.classList.toggle(name, name === "state-" + state);
    });
  }

  function businessLeft(el, at) {
    var left = parseFloat(el.getAttribute("data-left"));
    var since = Date.parse(el.getAttribute("data-at") || "");
    var until = Date.parse(el.getAttribute("data-until") || "");
    if (isNaN(since) || isNaN(until)) {
      return left;
    }
    if (at >= until && offHours && !el.querySelector(".off-hours")) {
      var hint = el.querySelector(".hint");
      var note = document.createElement("span");
      note.className = "off-hours";
      note.textContent = offHours;
      if (hint) {
        hint.appendChild(document.createTextNode(" \u00b7 "));
        hint.appendChild(note);
      }
    }
    return left - Math.max(0, Math.min(at, until) - since) / 1000;
  }

  function tick() {
    var at = now();
    document.querySelectorAll(".countdown[data-due]").forEach(function (el) {
      var due = Date.parse(el.getAttribute("data-due"));
      var warn = Date.parse(el.getAttribute("data-warn") || "");
      var business = el.hasAttribute("data-left");
      var left = business ? businessLeft(el, at) : (due - at) / 1000;
      var state = "ok";
      if (left <= 0 || el.hasAttribute("data-breached")) {
        state = "breached";
      } else if (!isNaN(warn) && at >= warn) {
        state = "warning";
      }
      setState(el, state);
      var text = el.querySelector(".left");
      if (text) {
        text.textContent = left < 0 ? overdue + " " + format(-left, business) : format(left, business);
      }
    });
    document.querySelectorAll("[data-since]").forEach(function (el) {
      var since = Date.parse(el.getAttribute("data-since"));
      if (!isNaN(since)) {
        el.textContent = format((at - since) / 1000);
      }
    });
  }

  // A single select with no option marked selected shows its first: that is not a choice.
  function changed(field) {
    if (field.tagName === "SELECT" && !field.multiple) {
      var initial = 0;
      Array.prototype.forEach.call(field.options, function (option, index) {
        if (option.defaultSelected) {
          initial = index;
        }
      });
      return field.options.length > 0 && field.selectedIndex !== initial;
    }
    if (field.tagName === "SELECT") {
      return Array.prototype.some.call(field.options, function (option) {
        return option.selected !== option.defaultSelected;
      });
    }
    if (field.type === "hidden" || field.type === "submit") {
      return false;
    }
    return field.value !== field.defaultValue;
  }

  // In use: a field inside has focus (a button or a section's summary does not count) or holds
  // something typed or chosen.
  function editing(el) {
    var active = document.activeElement;
    if (active && el.contains(active) && /^(INPUT|TEXTAREA|SELECT)$/.test(active.tagName)) {
      return true;
    }
    return Array.prototype.some.call(el.querySelectorAll("input, textarea, select"), changed);
  }

  // Sections folded or unfolded by hand stay so: matched by their summary's text.
  function keepFolding(current, replacement) {
    var open = {};
    current.querySelectorAll("details").forEach(function (details) {
      var summary = details.querySelector("summary");
      if (summary) {
        open[summary.textContent] = details.open;
      }
    });
    replacement.querySelectorAll("details").forEach(function (details) {
      var summary = details.querySelector("summary");
      if (summary && summary.textContent in open) {
        details.open = open[summary.textContent];
      }
    });
  }

  // Times arrive in UTC from the server; each viewer reads them in their own zone, to the minute,
  // with the seconds and the zone's name on hover.
  var zone = "";
  try {
    zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
  } catch (e) {
    zone = "";
  }

  function stamp(date, seconds) {
    var text = date.getFullYear() + "-" + pad(date.getMonth() + 1) + "-" + pad(date.getDate()) +
      " " + pad(date.getHours()) + ":" + pad(date.getMinutes());
    return seconds ? text + ":" + pad(date.getSeconds()) : text;
  }

  function localTimes(root) {
    root.querySelectorAll("time.local[datetime]").forEach(function (el) {
      var parsed = Date.parse(el.getAttribute("datetime"));
      if (isNaN(parsed)) {
        return;
      }
      var date = new Date(parsed);
      el.textContent = stamp(date, false);
      el.title = stamp(date, true) + (zone ? " " + zone : "");
    });
  }

  // Swap each listed element for its namesake on a fresh copy of this page. Forms are swapped
  // only when nobody is using them, so what someone is typing is never touched.
  function refresh(ids) {
    if (document.hidden) {
      return;
    }
    var headers = {};
    ids.forEach(function (id) {
      var current = document.getElementById(id);
      var version = current && current.getAttribute("data-version");
      if (version) {
        headers["If-None-Match"] = version;
      }
    });
    fetch(window.location.href, {
      credentials: "same-origin",
      redirect: "manual",
      cache: "no-store",
      headers: headers
    })
      .then(function (response) {
        return response.ok ? response.text() : null;
      })
      .then(function (html) {
        if (!html) {
          return;
        }
        var fresh = new DOMParser().parseFromString(html, "text/html");
        var swapped = false;
        ids.forEach(function (id) {
          var replacement = fresh.getElementById(id);
          var current = document.getElementById(id);
          if (!replacement || !current) {
            return;
          }
          if (current.hasAttribute("data-keep-while-editing")) {
            if (editing(current)) {
              return;
            }
            keepFolding(current, replacement);
          }
          current.replaceWith(document.adoptNode(replacement));
          swapped = true;
        });
        if (swapped) {
          syncClock(fresh.body.getAttribute("data-now"));
          localTimes(document);
          tick();
        }
      })
      .catch(function () {
        // Offline for a moment: the countdowns keep running; the next refresh catches up.
      });
  }

  // One fetch per interval, however many parts of the page share it.
  function scheduleRefreshes() {
    var groups = {};
    document.querySelectorAll("[data-refresh][id]").forEach(function (el) {
      var every = parseInt(el.getAttribute("data-refresh"), 10) || 30;
      (groups[every] = groups[every] || []).push(el.id);
    });
    Object.keys(groups).forEach(function (every) {
      window.setInterval(function () { refresh(groups[every]); }, every * 1000);
    });
  }

  syncClock(body.getAttribute("data-now"));
  localTimes(document);
  tick();
  window.setInterval(tick, 1000);
  scheduleRefreshes();
})();
