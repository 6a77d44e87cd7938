/*
 * Memnun web chat widget.
 *
 * Talks to Rasa's socket.io channel directly (user_uttered / bot_uttered, session_persistence), and to our
 * web app for what Rasa cannot give a browser: the visible history (read from the Rasa tracker) and the
 * web inbox (agent replies during a human takeover, scheduled check-ins).
 *
 * Rules this file keeps:
 * - Bot and user text is only ever inserted with textContent / text nodes, never innerHTML.
 * - A message the visitor typed is never dropped: it waits in a persisted outbox until Rasa acknowledges
 *   it (socket.io ack, sent by Rasa after it has processed the message), and is re-sent after a
 *   reconnect or a reload. Its client_message_id (in metadata) lets the history de-duplicate a re-send
 *   whose first copy did arrive.
 * - Screen readers hear new messages once (role=log, aria-live=polite); bulk re-renders are silent.
 */
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("memnun-chat-config").textContent);
  var LIMIT = config.historyLimit || 100;
  var ACK_WAIT_MS = 60000;
  var SESSION_RE = /^web-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

  // ---- storage (localStorage, or memory when the browser refuses it, e.g. some private modes) ----------
  var storage = (function () {
    try {
      var probe = "memnun.webchat.probe";
      window.localStorage.setItem(probe, "1");
      window.localStorage.removeItem(probe);
      return window.localStorage;
    } catch (error) {
      var memory = {};
      return {
        getItem: function (key) { return Object.prototype.hasOwnProperty.call(memory, key) ? memory[key] : null; },
        setItem: function (key, value) { memory[key] = String(value); },
        removeItem: function (key) { delete memory[key]; }
      };
    }
  })();

  function readJson(key, fallback) {
    try {
      var raw = storage.getItem(key);
      return raw ? JSON.parse(raw) : fallback;
    } catch (error) {
      return fallback;
    }
  }

  function writeJson(key, value) {
    try {
      storage.setItem(key, JSON.stringify(value));
    } catch (error) {
      /* quota exceeded: the server-side history still has everything */
    }
  }

  function uuid4() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") {
      return window.crypto.randomUUID();
    }
    // randomUUID exists only in secure contexts; getRandomValues works on plain http too.
    var bytes = window.crypto.getRandomValues(new Uint8Array(16));
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    var hex = Array.prototype.map.call(bytes, function (b) { return (b + 0x100).toString(16).slice(1); }).join("");
    return hex.slice(0, 8) + "-" + hex.slice(8, 12) + "-" + hex.slice(12, 16) + "-" + hex.slice(16, 20) + "-" + hex.slice(20);
  }

  var KEY_SESSION = "memnun.webchat.session";
  var KEY_LANG = "memnun.webchat.lang";
  var sessionId = storage.getItem(KEY_SESSION);
  if (!SESSION_RE.test(sessionId || "")) {
    sessionId = "web-" + uuid4();
    storage.setItem(KEY_SESSION, sessionId);
  }
  var KEY_HISTORY = "memnun.webchat.history." + sessionId;
  var KEY_OUTBOX = "memnun.webchat.outbox." + sessionId;

  // ---- DOM ----------------------------------------------------------------------------------------
  var log = document.getElementById("chat-log");
  var statusBox = document.getElementById("chat-status");
  var typing = document.getElementById("chat-typing");
  var form = document.getElementById("chat-form");
  var input = document.getElementById("chat-input");
  var langButtons = Array.prototype.slice.call(document.querySelectorAll(".lang__button"));

  function el(tag, className) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    return node;
  }

  // ---- state ------------------------------------------------------------------------------------
  var lang = initialLanguage();
  var history = sanitizeItems(readJson(KEY_HISTORY, []));
  var outbox = sanitizeOutbox(readJson(KEY_OUTBOX, []));
  var inflight = {};
  var socket = null;
  var ready = false;
  var statusKind = null;
  var statusTimer = null;
  var typingTimer = null;

  function initialLanguage() {
    var languages = config.languages || ["tr", "en"];
    if (config.languageFromUrl) {
      storage.setItem(KEY_LANG, config.defaultLanguage);
      return config.defaultLanguage;
    }
    var stored = storage.getItem(KEY_LANG);
    return languages.indexOf(stored) >= 0 ? stored : config.defaultLanguage;
  }

  function t(key) {
    var table = config.strings[lang] || config.strings.tr;
    return table[key];
  }

  function isWebUrl(value) {
    if (typeof value !== "string") return false;
    try {
      var url = new URL(value, window.location.href);
      return url.protocol === "https:" || url.protocol === "http:";
    } catch (error) {
      return false;
    }
  }

  function cleanButtons(raw) {
    if (!Array.isArray(raw)) return [];
    return raw.filter(function (b) {
      return b && typeof b.title === "string" && b.title && typeof b.payload === "string" && b.payload;
    }).map(function (b) { return { title: b.title, payload: b.payload }; });
  }

  function makeItem(fields) {
    var item = {
      id: typeof fields.id === "string" ? fields.id : "s-" + uuid4(),
      role: fields.role === "user" ? "user" : "bot",
      source: typeof fields.source === "string" ? fields.source : (fields.role === "user" ? "visitor" : "assistant"),
      text: typeof fields.text === "string" && fields.text.trim() ? fields.text : null,
      buttons: cleanButtons(fields.buttons),
      image: isWebUrl(fields.image) ? fields.image : null,
      ts: typeof fields.ts === "number" && isFinite(fields.ts) ? fields.ts : Date.now() / 1000,
      buttonsActive: fields.buttonsActive === true,
      chosen: typeof fields.chosen === "string" ? fields.chosen : null,
      pending: fields.pending === true
    };
    if (typeof fields.inboxId === "number") item.inboxId = fields.inboxId;
    return item;
  }

  function sanitizeItems(raw) {
    if (!Array.isArray(raw)) return [];
    return raw.filter(function (i) { return i && typeof i === "object"; }).map(makeItem).filter(function (i) {
      return i.text || i.image || i.buttons.length;
    }).slice(-LIMIT);
  }

  function sanitizeOutbox(raw) {
    if (!Array.isArray(raw)) return [];
    return raw.filter(function (e) {
      return e && typeof e.cid === "string" && typeof e.text === "string" && e.text;
    });
  }

  function saveHistory() {
    history = history.slice(-LIMIT);
    writeJson(KEY_HISTORY, history);
  }

  function saveOutbox() {
    writeJson(KEY_OUTBOX, outbox);
  }

  // ---- rendering ---------------------------------------------------------------------------------
  var TOKEN = /\[([^\]\n]{1,200})\]\((https?:\/\/[^\s)]+)\)|(https?:\/\/[^\s<>"]*[^\s<>".,:;!?)\]'])|\*\*([^*\n]{1,500})\*\*/g;

  function appendLink(parent, label, href) {
    if (!isWebUrl(href)) {
      parent.appendChild(document.createTextNode(label));
      return;
    }
    var link = el("a");
    link.href = new URL(href).href;
    link.target = "_blank";
    link.rel = "noopener noreferrer nofollow";
    link.textContent = label;
    var hint = el("span", "visually-hidden");
    hint.textContent = " " + t("opens_new_tab");
    link.appendChild(hint);
    parent.appendChild(link);
  }

  /** Text with **bold**, [label](https://...) and bare https:// links; everything else stays plain text. */
  function appendRichText(parent, text) {
    var last = 0;
    var match;
    TOKEN.lastIndex = 0;
    while ((match = TOKEN.exec(text)) !== null) {
      if (match.index > last) parent.appendChild(document.createTextNode(text.slice(last, match.index)));
      if (match[1] !== undefined) {
        appendLink(parent, match[1], match[2]);
      } else if (match[3] !== undefined) {
        appendLink(parent, match[3], match[3]);
      } else {
        var strong = el("strong");
        strong.textContent = match[4];
        parent.appendChild(strong);
      }
      last = TOKEN.lastIndex;
    }
    if (last < text.length) parent.appendChild(document.createTextNode(text.slice(last)));
  }

  var timeFormats = {};
  function formatTime(ts) {
    var locale = lang === "tr" ? "tr-TR" : "en-GB";
    if (!timeFormats[locale]) {
      timeFormats[locale] = new Intl.DateTimeFormat(locale, { hour: "2-digit", minute: "2-digit" });
    }
    return timeFormats[locale].format(new Date(ts * 1000));
  }

  function senderLabel(item) {
    if (item.role === "user") return t("you_label");
    return item.source === "agent" ? t("agent_label") : t("bot_label");
  }

  function renderItem(item) {
    var node = el("div", "msg " + (item.role === "user" ? "msg--user" : "msg--bot"));
    if (item.source === "agent") node.classList.add("msg--agent");
    node.setAttribute("data-id", item.id);
    var sender = el("span", item.source === "agent" ? "msg__sender" : "visually-hidden");
    sender.textContent = senderLabel(item);
    node.appendChild(sender);

    if (item.text || item.image) {
      var bubble = el("div", "msg__bubble");
      if (item.text) appendRichText(bubble, item.text);
      if (item.image) {
        var image = el("img", "msg__image");
        image.alt = t("image_alt");
        image.loading = "lazy";
        image.decoding = "async";
        image.referrerPolicy = "no-referrer";
        image.src = item.image;
        image.addEventListener("error", function () { image.remove(); });
        // The picture's height is known only once it loads; keep the newest message in view.
        image.addEventListener("load", function () { scrollToEnd(false); });
        bubble.appendChild(image);
      }
      node.appendChild(bubble);
    }
    if (item.buttons.length) node.appendChild(renderQuickReplies(item));

    var meta = el("div", "msg__meta");
    var time = el("time");
    time.dateTime = new Date(item.ts * 1000).toISOString();
    time.textContent = formatTime(item.ts);
    meta.appendChild(time);
    if (item.pending) {
      var pending = el("span", "msg__pending");
      pending.textContent = "· " + t("queued");
      pending.hidden = ready;
      meta.appendChild(pending);
    }
    node.appendChild(meta);
    return node;
  }

  function renderQuickReplies(item) {
    var group = el("div", "chips");
    group.setAttribute("role", "group");
    group.setAttribute("aria-label", t("quick_replies_label"));
    item.buttons.forEach(function (button) {
      var chip = el("button", "chip");
      chip.type = "button";
      chip.textContent = button.title;
      chip.disabled = !item.buttonsActive;
      if (item.chosen === button.payload) chip.classList.add("is-chosen");
      chip.addEventListener("click", function () { onQuickReply(item, button, chip); });
      group.appendChild(chip);
    });
    return group;
  }

  function renderWelcome() {
    var node = el("div", "msg msg--bot");
    node.setAttribute("data-welcome", "true");
    var sender = el("span", "visually-hidden");
    sender.textContent = t("bot_label");
    node.appendChild(sender);
    var bubble = el("div", "msg__bubble");
    bubble.textContent = t("welcome");
    node.appendChild(bubble);
    if (!history.length && !outbox.length) {
      var group = el("div", "chips");
      group.setAttribute("role", "group");
      group.setAttribute("aria-label", t("suggestions_label"));
      group.setAttribute("data-suggestions", "true");
      t("suggestions").forEach(function (text) {
        var chip = el("button", "chip");
        chip.type = "button";
        chip.textContent = text;
        chip.addEventListener("click", function () {
          sendUserMessage(text, {});
          input.focus();
        });
        group.appendChild(chip);
      });
      node.appendChild(group);
    }
    return node;
  }

  /** Replace the whole log without making screen readers read the conversation again. */
  function renderAll() {
    log.setAttribute("aria-live", "off");
    var fragment = document.createDocumentFragment();
    fragment.appendChild(renderWelcome());
    history.forEach(function (item) { fragment.appendChild(renderItem(item)); });
    log.replaceChildren(fragment);
    scrollToEnd(true);
    window.setTimeout(function () { log.setAttribute("aria-live", "polite"); }, 300);
  }

  // Follow the conversation unless the visitor scrolled up to re-read something.
  var followEnd = true;
  log.addEventListener("scroll", function () {
    followEnd = log.scrollHeight - log.scrollTop - log.clientHeight < 80;
  }, { passive: true });

  function scrollToEnd(force) {
    if (force || followEnd) {
      log.scrollTop = log.scrollHeight;
      followEnd = true;
    }
  }

  function appendItem(item) {
    history.push(item);
    saveHistory();
    var suggestions = log.querySelector("[data-suggestions]");
    if (suggestions) suggestions.remove();
    log.appendChild(renderItem(item));
    // Keep the DOM as bounded as the stored history (the welcome bubble stays first).
    var nodes = log.querySelectorAll(".msg:not([data-welcome])");
    for (var i = 0; i < nodes.length - LIMIT; i++) nodes[i].remove();
    // The visitor's own message always brings the view down; replies do unless they scrolled up.
    scrollToEnd(item.role === "user");
  }

  function nodeFor(item) {
    var nodes = log.querySelectorAll(".msg[data-id]");
    for (var i = 0; i < nodes.length; i++) {
      if (nodes[i].getAttribute("data-id") === item.id) return nodes[i];
    }
    return null;
  }

  function deactivateQuickReplies() {
    var changed = false;
    history.forEach(function (item) {
      if (item.buttonsActive) {
        item.buttonsActive = false;
        changed = true;
      }
    });
    Array.prototype.forEach.call(log.querySelectorAll(".msg:not([data-welcome]) .chip"), function (chip) {
      chip.disabled = true;
    });
    if (changed) saveHistory();
  }

  function onQuickReply(item, button, chip) {
    if (!item.buttonsActive) return;
    item.chosen = button.payload;
    deactivateQuickReplies();
    chip.classList.add("is-chosen");
    sendUserMessage(button.payload, { display: button.title });
    // The pressed button is now disabled; keep keyboard users in the conversation, not on <body>.
    input.focus();
  }

  // ---- interface language --------------------------------------------------------------------------
  function applyStrings() {
    document.documentElement.lang = lang;
    document.title = t("page_title");
    Array.prototype.forEach.call(document.querySelectorAll("[data-i18n]"), function (node) {
      node.textContent = t(node.getAttribute("data-i18n"));
    });
    Array.prototype.forEach.call(document.querySelectorAll("[data-i18n-placeholder]"), function (node) {
      node.setAttribute("placeholder", t(node.getAttribute("data-i18n-placeholder")));
    });
    Array.prototype.forEach.call(document.querySelectorAll("[data-i18n-aria-label]"), function (node) {
      node.setAttribute("aria-label", t(node.getAttribute("data-i18n-aria-label")));
    });
    langButtons.forEach(function (button) {
      button.setAttribute("aria-pressed", button.getAttribute("data-lang") === lang ? "true" : "false");
    });
    if (statusKind) setStatus(statusKind);
  }

  function setLanguage(next) {
    if (next === lang || (config.languages || []).indexOf(next) < 0) return;
    lang = next;
    storage.setItem(KEY_LANG, lang);
    applyStrings();
    renderAll();
    // Tell the assistant too, so its answers switch language; not shown as a bubble.
    sendUserMessage('/change_language{"target_language":"' + lang + '"}', { silent: true });
  }

  // ---- connection status -----------------------------------------------------------------------------
  function setStatus(kind) {
    window.clearTimeout(statusTimer);
    statusKind = kind;
    if (!kind) {
      statusBox.textContent = "";
      statusBox.removeAttribute("data-kind");
      return;
    }
    statusBox.setAttribute("data-kind", kind === "reconnected" ? "ok" : "warn");
    statusBox.textContent = t(kind);
    if (kind === "reconnected") {
      statusTimer = window.setTimeout(function () { setStatus(null); }, 3000);
    }
  }

  function updatePendingMarks() {
    Array.prototype.forEach.call(log.querySelectorAll(".msg__pending"), function (mark) {
      mark.hidden = ready;
    });
  }

  function updateTyping() {
    var waiting = ready && Object.keys(inflight).length > 0;
    window.clearTimeout(typingTimer);
    typing.hidden = !waiting;
    if (waiting) {
      // Rasa acknowledges after it has answered; if that never comes, stop pretending someone is typing.
      typingTimer = window.setTimeout(function () { typing.hidden = true; }, ACK_WAIT_MS);
      scrollToEnd(false);
    }
  }

  // ---- sending ----------------------------------------------------------------------------------
  function sendUserMessage(text, options) {
    var entry = {
      cid: uuid4(),
      text: text,
      display: options.display || null,
      silent: options.silent === true,
      lang: lang,
      ts: Date.now() / 1000
    };
    if (!entry.silent) {
      deactivateQuickReplies();
      appendItem(makeItem({
        id: "c-" + entry.cid,
        role: "user",
        source: "visitor",
        text: entry.display || text,
        ts: entry.ts,
        pending: true
      }));
    }
    outbox.push(entry);
    saveOutbox();
    flushOutbox();
  }

  function flushOutbox() {
    if (!ready || !socket) return;
    outbox.forEach(function (entry) {
      if (inflight[entry.cid]) return;
      inflight[entry.cid] = true;
      var metadata = { channel: "web", client_message_id: entry.cid, language_hint: entry.lang };
      if (entry.display) metadata.display_text = entry.display;
      if (entry.silent) metadata.silent = true;
      socket.emit(
        "user_uttered",
        { message: entry.text, session_id: sessionId, metadata: metadata },
        function () { onDelivered(entry.cid); }
      );
    });
    updateTyping();
  }

  function onDelivered(cid) {
    delete inflight[cid];
    outbox = outbox.filter(function (entry) { return entry.cid !== cid; });
    saveOutbox();
    markSent("c-" + cid);
    updateTyping();
  }

  function markSent(id) {
    history.forEach(function (item) {
      if (item.id === id && item.pending) {
        item.pending = false;
        var node = nodeFor(item);
        var mark = node && node.querySelector(".msg__pending");
        if (mark) mark.remove();
      }
    });
    saveHistory();
  }

  // ---- receiving --------------------------------------------------------------------------------
  /** A bot_uttered payload of Rasa's socket.io output channel -> history item. */
  function fromRasa(message) {
    if (!message || typeof message !== "object") return null;
    var text = typeof message.text === "string" ? message.text : null;
    var buttons = cleanButtons(Array.isArray(message.quick_replies) ? message.quick_replies : message.buttons);
    var image = typeof message.image === "string" ? message.image : null;
    var attachment = message.attachment;
    if (attachment && attachment.type === "image" && attachment.payload) {
      image = attachment.payload.src;
    } else if (attachment && attachment.type === "template" && attachment.payload) {
      // Generic template (cards): show title, subtitle, image and postback buttons.
      var element = attachment.payload.elements;
      element = Array.isArray(element) ? element[0] : element;
      if (element && typeof element === "object") {
        text = [element.title, element.subtitle].filter(function (s) { return typeof s === "string" && s; }).join("\n") || null;
        image = element.image_url || null;
        buttons = cleanButtons(element.buttons);
      }
    }
    var item = makeItem({ role: "bot", source: "assistant", text: text, buttons: buttons, image: image });
    return item.text || item.image || item.buttons.length ? item : null;
  }

  function receiveBotItem(item) {
    if (item.buttons.length) {
      // Only the newest question can be answered by a button.
      deactivateQuickReplies();
      item.buttonsActive = true;
    }
    appendItem(item);
  }

  function receiveInbox(messages) {
    if (!Array.isArray(messages)) return;
    var ids = [];
    messages.forEach(function (message) {
      if (!message || typeof message.inboxId !== "number") return;
      ids.push(message.inboxId);
      var known = history.some(function (item) { return item.inboxId === message.inboxId; });
      if (known) return;
      var item = makeItem({
        id: "i-" + message.inboxId,
        inboxId: message.inboxId,
        role: "bot",
        source: message.source,
        text: message.text,
        buttons: message.buttons,
        image: message.image,
        ts: message.ts
      });
      if (item.text || item.image || item.buttons.length) receiveBotItem(item);
    });
    if (ids.length) acknowledgeInbox(ids);
  }

  function apiUrl(path) {
    return config.apiBase + path + (path.indexOf("?") >= 0 ? "&" : "?") + "session=" + encodeURIComponent(sessionId);
  }

  function acknowledgeInbox(ids) {
    // Acknowledge only after the messages are on screen and in local history; a failed ack simply means
    // the server offers them again and the page ignores the duplicates.
    fetch(config.apiBase + "/inbox/ack", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ session: sessionId, ids: ids }),
      keepalive: true
    }).catch(function () {});
  }

  function fetchInbox() {
    return fetch(apiUrl("/inbox"), { cache: "no-store" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) { if (data) receiveInbox(data.messages); })
      .catch(function () {});
  }

  function startInboxStream() {
    if (typeof window.EventSource !== "function") {
      window.setInterval(fetchInbox, 10000);
      return;
    }
    var stream = new EventSource(apiUrl("/inbox/stream"));
    stream.addEventListener("inbox", function (event) {
      try {
        receiveInbox(JSON.parse(event.data).messages);
      } catch (error) {
        /* a malformed event is ignored; the next one or the next page load brings the messages */
      }
    });
  }

  /**
   * Replace the locally cached history with the one built from the Rasa tracker (the source of truth).
   * Outbox messages the tracker already has were delivered although their ack was lost: drop them
   * instead of sending them twice. Still-unsent messages stay visible at the end.
   */
  function loadServerHistory() {
    var controller = typeof AbortController === "function" ? new AbortController() : null;
    var timer = window.setTimeout(function () { if (controller) controller.abort(); }, 6000);
    return fetch(apiUrl("/history?limit=" + LIMIT), { cache: "no-store", signal: controller && controller.signal })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (!data || !Array.isArray(data.messages)) return;
        var server = sanitizeItems(data.messages);
        var known = {};
        server.forEach(function (item) { known[item.id] = true; });
        var before = outbox.length;
        outbox = outbox.filter(function (entry) { return !known["c-" + entry.cid]; });
        if (outbox.length !== before) saveOutbox();
        var unsent = {};
        outbox.forEach(function (entry) { unsent["c-" + entry.cid] = true; });
        var stillPending = history.filter(function (item) { return unsent[item.id]; });
        var merged = server.concat(stillPending).slice(-LIMIT);
        if (JSON.stringify(merged) !== JSON.stringify(history)) {
          history = merged;
          saveHistory();
          renderAll();
        }
      })
      .catch(function () { /* Rasa or our server is unreachable: keep showing the local copy */ })
      .then(function () { window.clearTimeout(timer); });
  }

  // ---- socket.io (Rasa) --------------------------------------------------------------------------------
  function crc32(text) {
    // CRC-32 of the UTF-8 bytes, equal to Python's zlib.crc32 (Settings.rasa_url_for routes by it).
    var bytes = new TextEncoder().encode(text);
    var crc = -1;
    for (var i = 0; i < bytes.length; i++) {
      crc ^= bytes[i];
      for (var bit = 0; bit < 8; bit++) crc = (crc >>> 1) ^ (0xedb88320 & -(crc & 1));
    }
    return (crc ^ -1) >>> 0;
  }

  function pickSocketUrl(urls, session) {
    // One Rasa process per conversation: the same one our services use for this sender.
    if (!urls.length) return undefined;
    return urls[crc32(session) % urls.length];
  }

  function connect() {
    if (typeof window.io !== "function") {
      setStatus("offline");
      return;
    }
    socket = window.io(pickSocketUrl(config.socketUrls || [], sessionId), {
      path: config.socketPath || "/socket.io",
      reconnection: true,
      reconnectionDelay: 1000,
      reconnectionDelayMax: 8000,
      timeout: 10000
    });
    var connectingTimer = window.setTimeout(function () {
      if (!ready && !statusKind) setStatus("connecting");
    }, 1500);

    socket.on("connect", function () {
      // Join our conversation's room again on every (re)connect; Rasa answers with session_confirm.
      socket.emit("session_request", { session_id: sessionId });
    });
    socket.on("session_confirm", function () {
      window.clearTimeout(connectingTimer);
      // Whoever saw "connection lost" also hears that it is back; a first connection stays quiet.
      var sawOffline = statusKind === "offline";
      ready = true;
      setStatus(sawOffline ? "reconnected" : null);
      updatePendingMarks();
      flushOutbox();
      fetchInbox();
    });
    socket.on("bot_uttered", function (message) {
      var item = fromRasa(message);
      if (item) receiveBotItem(item);
    });
    socket.on("disconnect", function (reason) {
      ready = false;
      // Packets socket.io buffered while the link was dying would be sent on reconnect in addition to our
      // outbox re-send: drop them, the outbox is the one queue.
      socket.sendBuffer = [];
      inflight = {};
      updateTyping();
      updatePendingMarks();
      setStatus("offline");
      if (reason === "io server disconnect") {
        // The server closed the session on purpose; socket.io does not retry that by itself.
        window.setTimeout(function () { socket.connect(); }, 2000);
      }
    });
    socket.on("connect_error", function () {
      if (!ready) {
        window.clearTimeout(connectingTimer);
        setStatus("offline");
      }
    });
  }

  // ---- wiring ---------------------------------------------------------------------------------
  function autoGrow() {
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight + 3, 140) + "px";
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text) {
      input.focus();
      return;
    }
    input.value = "";
    autoGrow();
    sendUserMessage(text, {});
    input.focus();
  });

  input.addEventListener("keydown", function (event) {
    // Enter sends, Shift+Enter starts a new line; never interrupt an IME composition.
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      if (typeof form.requestSubmit === "function") form.requestSubmit();
      else form.dispatchEvent(new Event("submit", { cancelable: true }));
    }
  });
  input.addEventListener("input", autoGrow);

  langButtons.forEach(function (button) {
    button.addEventListener("click", function () { setLanguage(button.getAttribute("data-lang")); });
  });

  applyStrings();
  renderAll();
  if (window.matchMedia && window.matchMedia("(pointer: fine)").matches) {
    // Desktop: ready to type. Phones: no surprise keyboard covering the conversation.
    input.focus({ preventScroll: true });
  }
  loadServerHistory().then(function () {
    connect();
    fetchInbox();
    startInboxStream();
  });
})();
