/* Bürgerbot web chat. Embed with <script src=".../widget.js" data-profile="buerger" async></script>.
   No cookies, no third-party requests, no inline script or style; every text from the server is
   set with textContent, never parsed as HTML. Protocol: bot/channels/web/channel.py. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script) { return; }
  var base = new URL(".", script.src).href;
  var query = new URLSearchParams(location.search);
  var pageMode = script.getAttribute("data-mode") === "page";
  var profile = script.getAttribute("data-profile") || query.get("profile") || "";  // empty: the server's first profile
  var lang = (script.getAttribute("data-lang") || (pageMode && query.get("lang")) || document.documentElement.lang ||
    navigator.language || "de").slice(0, 2).toLowerCase();
  var forceHttp = script.getAttribute("data-transport") === "http";
  var RTL = ["ar", "fa", "he", "ur", "ps", "ku"];
  var SAFE_URL = /^(https?:|mailto:|tel:)/i;

  function randomId() {
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function sessionId() {
    var key = "buergerbot-session-" + profile;
    try {
      var id = sessionStorage.getItem(key);
      if (!id) { id = randomId(); sessionStorage.setItem(key, id); }
      return id;
    } catch (e) { return randomId(); }  // storage blocked: a session for this page view only
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) { node.setAttribute(name, attrs[name]); });
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  var session = sessionId();
  var ui = {}, uiLang = lang;
  var log, status, input, panel, launcher;
  var lastSeq = 0, pending = [], shownCids = {};
  var ws = null, welcomed = false, everOpened = false, failures = 0, retryDelay = 500, useHttp = forceHttp;

  // ---- rendering --------------------------------------------------------------------------
  function spans(parent, list) {
    list.forEach(function (span) {
      if (span.t === "a" && SAFE_URL.test(span.href || "")) {
        parent.appendChild(el("a", { href: span.href, rel: "noopener noreferrer" }, span.text));
      } else {
        parent.appendChild(span.t === "b" ? el("strong", {}, span.text) : document.createTextNode(span.text));
      }
    });
  }

  function blocks(parent, list) {
    list.forEach(function (block) {
      if (block.type === "pre") {
        parent.appendChild(el("pre", { dir: "ltr" }, block.text));
      } else if (block.type === "list") {
        var ul = el("ul");
        block.items.forEach(function (item) { var li = el("li", { dir: "auto" }); spans(li, item); ul.appendChild(li); });
        parent.appendChild(ul);
      } else if (block.type === "table") {
        var wrap = el("div", { "class": "table" });
        var table = el("table"), head = el("tr"), body = el("tbody");
        block.head.forEach(function (cell) { var th = el("th", { scope: "col" }); spans(th, cell); head.appendChild(th); });
        block.rows.forEach(function (row) {
          var tr = el("tr");
          row.forEach(function (cell) { var td = el("td"); spans(td, cell); tr.appendChild(td); });
          body.appendChild(tr);
        });
        var thead = el("thead"); thead.appendChild(head);
        table.appendChild(thead); table.appendChild(body); wrap.appendChild(table);
        parent.appendChild(wrap);
      } else {
        var p = el("p", { dir: "auto" });
        block.lines.forEach(function (line, i) { if (i) { p.appendChild(el("br")); } spans(p, line); });
        parent.appendChild(p);
      }
    });
  }

  function bubble(kind, who, language) {
    var node = el("div", { "class": "msg " + kind, dir: "auto" });
    if (language) { node.setAttribute("lang", language); }
    node.appendChild(el("span", { "class": "sr" }, who + ": "));
    return node;
  }

  function showSaid(text) {
    var node = bubble("user", ui.you);
    node.appendChild(el("p", { dir: "auto" }, text));
    append(node);
  }

  function showReply(reply) {
    var node = bubble("bot", ui.bot, reply.language);
    blocks(node, reply.blocks);
    if (reply.buttons.length) {
      var links = el("div", { "class": "links", role: "group", "aria-label": ui.links });
      reply.buttons.forEach(function (b) {
        if (!SAFE_URL.test(b.url)) { return; }
        var a = el("a", { "class": "button", href: b.url, target: "_blank", rel: "noopener noreferrer" }, b.label);
        a.appendChild(el("span", { "class": "sr" }, " " + ui.new_window));
        links.appendChild(a);
      });
      node.appendChild(links);
    }
    if (reply.choices.length) {
      var group = el("div", { "class": "choices", role: "group", "aria-label": ui.choices });
      reply.choices.forEach(function (c) {
        var button = el("button", { type: "button", "class": "choice" }, c.label);
        button.addEventListener("click", function () { say({ choice: c.payload, label: c.label }, c.label); });
        group.appendChild(button);
      });
      node.appendChild(group);
    }
    if (reply.feedback) { node.appendChild(votes(reply.feedback)); }
    append(node);
  }

  // 👍/👎 under an answer: toggle buttons (aria-pressed), one vote per answer; they stay focusable
  // after the vote (aria-disabled) so that keyboard focus is not lost.
  function votes(token) {
    var group = el("div", { "class": "votes", role: "group", "aria-label": ui.feedback_question });
    group.appendChild(el("span", { "class": "vote-question", "aria-hidden": "true" }, ui.feedback_question));
    [["up", "👍", ui.feedback_helpful], ["down", "👎", ui.feedback_not_helpful]].forEach(function (kind) {
      var button = el("button", { type: "button", "class": "vote", "aria-pressed": "false" });
      button.appendChild(el("span", { "aria-hidden": "true" }, kind[1] + " "));
      button.appendChild(document.createTextNode(kind[2]));
      button.addEventListener("click", function () {
        if (group.getAttribute("data-voted")) { return; }
        group.setAttribute("data-voted", kind[0]);
        button.setAttribute("aria-pressed", "true");
        Array.prototype.forEach.call(group.querySelectorAll("button"), function (b) { b.setAttribute("aria-disabled", "true"); });
        say({ vote: kind[0], answer: token });
      });
      group.appendChild(button);
    });
    return group;
  }

  function append(node) {
    log.appendChild(node);
    // The start of a new message in view: a long answer is read from its first line, not its last.
    log.scrollTop = Math.min(log.scrollHeight, node.offsetTop - 8);
  }

  function receive(item) {
    if (item.type !== "answer" || item.seq <= lastSeq) { return; }  // seen before: a resent answer
    lastSeq = item.seq;
    pending = pending.filter(function (m) { return m.cid !== item.cid; });
    if (!shownCids[item.cid] && item.said) { showSaid(item.said); }
    item.replies.forEach(showReply);
  }

  // ---- transport --------------------------------------------------------------------------
  function say(message, shown) {
    message.cid = randomId();
    pending.push(message);
    if (shown) { shownCids[message.cid] = true; showSaid(shown); }
    transmit(message);
  }

  function transmit(message) {
    if (useHttp) { post(message); return; }
    if (ws && welcomed) { ws.send(JSON.stringify(Object.assign({ type: "message" }, message))); }
  }

  function hello() {
    return { session: session, profile: profile, lang: lang };
  }

  function welcome(nextSeq) {
    setStatus("");
    var fresh = lastSeq === 0;
    // The server no longer knows the session (restarted, or idle too long): its numbers start again.
    if (nextSeq - 1 < lastSeq) { lastSeq = 0; }
    if (nextSeq === 1 && fresh && !pending.some(function (m) { return m.cid === "start"; })) {
      pending.push({ cid: "start", command: "start" });  // the profile's greeting and menu, once per session
    }
    pending.slice().forEach(transmit);
  }

  function connect() {
    welcomed = false;
    var socket;
    try { socket = new WebSocket(base.replace(/^http/, "ws") + "ws"); } catch (e) { fallBack(); return; }
    ws = socket;
    socket.onopen = function () {
      everOpened = true; failures = 0; retryDelay = 500;
      socket.send(JSON.stringify(Object.assign({ type: "hello", last_seq: lastSeq }, hello())));
    };
    socket.onmessage = function (event) {
      var data = JSON.parse(event.data);
      if (data.type === "welcome") { welcomed = true; welcome(data.next_seq); } else { receive(data); }
    };
    socket.onclose = function () {
      if (ws !== socket) { return; }
      ws = null; welcomed = false;
      failures += 1;
      if (!everOpened && failures >= 2) { fallBack(); return; }
      setStatus(ui.reconnecting);
      setTimeout(connect, retryDelay);
      retryDelay = Math.min(retryDelay * 2, 10000);
    };
  }

  function fallBack() {
    useHttp = true;
    poll(false);
  }

  function request(path, options) {
    return fetch(base + path, Object.assign({ credentials: "omit", cache: "no-store" }, options)).then(function (response) {
      if (!response.ok) { throw new Error(String(response.status)); }
      return response.json();
    });
  }

  function post(message) {
    var body = Object.assign({ after: lastSeq }, hello(), message);
    request("api/message", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) })
      .then(function (data) { setStatus(""); data.items.forEach(receive); })
      .catch(function () {
        setStatus(ui.reconnecting);
        setTimeout(function () { if (pending.indexOf(message) >= 0) { post(message); } }, 2000);
      });
  }

  function poll(wait) {
    var params = new URLSearchParams(Object.assign({ after: String(lastSeq), wait: wait ? "1" : "0" }, hello()));
    request("api/poll?" + params.toString(), {})
      .then(function (data) {
        data.items.forEach(receive);
        if (!wait) { welcome(data.next_seq); }
        poll(true);
      })
      .catch(function () { setTimeout(function () { poll(wait); }, 3000); });
  }

  function setStatus(text) {
    if (status.textContent !== text) { status.textContent = text; }
  }

  // ---- the frame --------------------------------------------------------------------------
  function build() {
    var host = el("div", { "class": "buergerbot-host" });
    var root = host.attachShadow({ mode: "open" });
    root.appendChild(el("link", { rel: "stylesheet", href: base + "widget.css" }));
    var rtl = RTL.indexOf(lang) >= 0 ? "rtl" : "ltr";
    panel = el(pageMode ? "main" : "aside", { "class": pageMode ? "panel page" : "panel", id: "panel", lang: uiLang, dir: rtl, "aria-labelledby": "title" });
    var header = el("div", { "class": "header" });
    header.appendChild(el(pageMode ? "h1" : "h2", { id: "title" }, ui.title));
    panel.appendChild(header);
    log = el("div", { "class": "log", role: "log", "aria-live": "polite", "aria-label": ui.messages, tabindex: "0" });
    status = el("p", { "class": "status", role: "status" });
    var form = el("form", { "class": "form" });
    input = el("input", { id: "input", type: "text", autocomplete: "off", "class": "input", dir: "auto" });
    var label = el("label", { "for": "input", "class": "label" }, ui.input_label);
    var send = el("button", { type: "submit", "class": "send" }, ui.send);
    form.appendChild(label); form.appendChild(input); form.appendChild(send);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var text = input.value.trim();
      if (!text) { return; }
      input.value = "";
      say({ text: text }, text);
    });
    panel.appendChild(log); panel.appendChild(status); panel.appendChild(form);
    if (pageMode) {
      document.documentElement.lang = uiLang;
      document.documentElement.dir = rtl;
      document.title = ui.title;
      root.appendChild(panel);
      document.body.appendChild(host);
      start();
      return;
    }
    var close = el("button", { type: "button", "class": "close", "aria-label": ui.close }, "×");
    header.appendChild(close);
    launcher = el("button", { type: "button", "class": "launcher", "aria-expanded": "false", "aria-controls": "panel", dir: rtl }, ui.open);
    panel.hidden = true;
    root.appendChild(launcher); root.appendChild(panel);
    var started = false;
    function toggle(open) {
      panel.hidden = !open;
      launcher.hidden = open;
      launcher.setAttribute("aria-expanded", String(open));
      if (open) {
        if (!started) { started = true; start(); }
        input.focus();
      } else {
        launcher.focus();
      }
    }
    launcher.addEventListener("click", function () { toggle(true); });
    close.addEventListener("click", function () { toggle(false); });
    panel.addEventListener("keydown", function (event) { if (event.key === "Escape") { toggle(false); } });
    document.body.appendChild(host);
  }

  function start() {
    setStatus(ui.connecting);
    if (useHttp || !("WebSocket" in window)) { fallBack(); } else { connect(); }
  }

  fetch(base + "ui.json?lang=" + encodeURIComponent(lang), { credentials: "omit" })
    .then(function (response) { return response.json(); })
    .then(function (data) { ui = data.texts; uiLang = data.lang; build(); });
})();
