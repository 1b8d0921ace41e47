// Wharf web UI: the few things that need a script. Every page works without it.
//  - copy buttons ([data-copy]) put a value on the clipboard;
//  - a build's log ([data-follow]) is followed live through the API's server-sent events;
//  - the header search suggests repositories as you type, and is still a plain form.
(function () {
  "use strict";

  function announce(text) {
    var live = document.getElementById("live");
    if (live) { live.textContent = ""; setTimeout(function () { live.textContent = text; }, 30); }
  }

  // ---- copy buttons ----
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      var value = button.getAttribute("data-copy");
      var done = function () {
        var label = button.textContent;
        button.textContent = "Copied";
        announce("Copied " + value);
        setTimeout(function () { button.textContent = label; }, 1500);
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(value).then(done, function () { fallback(value); done(); });
      } else { fallback(value); done(); }
    });
  });
  function fallback(value) {
    var area = document.createElement("textarea");
    area.value = value; area.setAttribute("readonly", ""); area.style.position = "absolute"; area.style.left = "-9999px";
    document.body.appendChild(area); area.select();
    try { document.execCommand("copy"); } catch (e) { /* the value stays selectable on the page */ }
    document.body.removeChild(area);
  }

  // ---- live build log ----
  var log = document.querySelector("[data-follow]");
  if (log && window.EventSource) {
    var source = new EventSource(log.getAttribute("data-follow"));
    var status = document.getElementById("build-live");
    var last = Number(log.getAttribute("data-last") || "0");
    if (status) status.textContent = "Following the log live…";
    source.addEventListener("log", function (event) {
      var seq = Number(event.lastEventId || "0");
      if (seq && seq <= last) return; // already on the page
      last = seq;
      var atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 8;
      var line = document.createElement("span");
      var text = event.data;
      if (/^\S+ (STEP \d+|Step \d+\/\d+)/.test(text)) line.className = "step";
      line.textContent = text + "\n";
      log.appendChild(line);
      log.setAttribute("data-lines", String(log.querySelectorAll("span").length));
      if (atBottom) log.scrollTop = log.scrollHeight;
    });
    source.addEventListener("end", function (event) {
      source.close();
      if (status) status.textContent = "The build ended: " + event.data + ".";
      // The page's status, digest and buttons come from the server: load them once more.
      setTimeout(function () { window.location.reload(); }, 400);
    });
    source.onerror = function () {
      if (source.readyState === EventSource.CLOSED && status) status.textContent = "Live log disconnected; reload the page to see more.";
    };
  }

  // ---- search as you type ----
  var input = document.getElementById("q");
  if (input && window.fetch) {
    var list = document.createElement("ul");
    list.className = "suggest"; list.id = "q-suggest"; list.hidden = true;
    list.setAttribute("aria-label", "Matching repositories");
    input.parentNode.appendChild(list);
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-controls", "q-suggest");
    input.setAttribute("aria-expanded", "false");
    var timer = null, seq = 0;
    input.addEventListener("input", function () {
      clearTimeout(timer);
      var q = input.value.trim();
      if (q.length < 2) { hide(); return; }
      timer = setTimeout(function () {
        var mine = ++seq;
        fetch("/api/v1/search?limit=8&q=" + encodeURIComponent(q), { credentials: "same-origin", headers: { "Accept": "application/json" } })
          .then(function (r) { return r.ok ? r.json() : null; })
          .then(function (body) {
            if (mine !== seq || !body) return;
            var items = body.results || [];
            list.textContent = "";
            items.forEach(function (hit) {
              var li = document.createElement("li");
              var a = document.createElement("a");
              a.href = "/r/" + hit.full_name.split("/").map(encodeURIComponent).join("/");
              a.textContent = hit.full_name;
              li.appendChild(a); list.appendChild(li);
            });
            list.hidden = items.length === 0;
            input.setAttribute("aria-expanded", items.length ? "true" : "false");
            if (items.length) announce(items.length + " matching repositories");
          })
          .catch(function () { hide(); });
      }, 150);
    });
    input.addEventListener("keydown", function (e) {
      if (e.key === "ArrowDown" && !list.hidden) { var first = list.querySelector("a"); if (first) { e.preventDefault(); first.focus(); } }
      if (e.key === "Escape") hide();
    });
    list.addEventListener("keydown", function (e) {
      var links = Array.prototype.slice.call(list.querySelectorAll("a"));
      var i = links.indexOf(document.activeElement);
      if (e.key === "ArrowDown" && i < links.length - 1) { e.preventDefault(); links[i + 1].focus(); }
      if (e.key === "ArrowUp") { e.preventDefault(); if (i > 0) links[i - 1].focus(); else input.focus(); }
      if (e.key === "Escape") { hide(); input.focus(); }
    });
    document.addEventListener("click", function (e) { if (!list.contains(e.target) && e.target !== input) hide(); });
    function hide() { list.hidden = true; input.setAttribute("aria-expanded", "false"); }
  }
})();
