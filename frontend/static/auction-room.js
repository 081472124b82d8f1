/* The auction room and the round page, live. No framework, and no inline script (the pages allow none).
 *
 * The page is drawn with the round as it was and its state in <script type="application/json"
 * id="auction-state">; this script keeps it current from the round's server-sent events
 * (GET /api/rounds/{id}/events, with the session cookie):
 *   snapshot  the round (GET /api/rounds/{id}) including server_time
 *   bid       {id, alias, amount, current_price, leader, ends_at, extended, at}; the event id is the bid id
 *   status    {status, ends_at}
 * The countdown runs on the SERVER's clock, never the browser's: offset = server_time - Date.now() is taken from
 * the page and again from every snapshot, and the time left is ends_at - (Date.now() + offset). The browser's
 * clock only measures how much time has passed since. ends_at is the round's one effective end: an accepted bid
 * in the soft-close window moves it, and the move is announced.
 * EventSource reconnects by itself and sends Last-Event-ID; the server replays the bids missed, and a bid already
 * shown (by id) is skipped, so the feed never shows one twice.
 *
 * The bid form posts JSON to POST /api/rounds/{id}/bids with an Idempotency-Key made for each submission; when a
 * submission got no answer (the network failed) and the same amount is sent again, the key is re-used, so the
 * retry gets the first answer instead of placing a second bid (and when the feed brings that very bid first, the
 * submission counts as answered). A refusal is shown beside the form with the server's reason; it changes nothing
 * else (a refused bid never moves the end). While the bidder leads, the button rests: a leader does not raise
 * against itself.
 *
 * On every page: <time data-local-time datetime="…"> gets the viewer's local time beside the UTC text, and a
 * form with data-confirm asks before it posts. */
(function () {
  "use strict";

  var TERMINAL = { sold: true, failed: true, defaulted: true };

  function parseTime(text) {
    // "2026-12-03T01:30:25.673102Z": keep milliseconds, which every Date.parse reads.
    return Date.parse(String(text).replace(/(\.\d{3})\d+/, "$1"));
  }

  function pad(n) {
    return (n < 10 ? "0" : "") + n;
  }

  function utcText(ms, withDate) {
    var d = new Date(ms);
    var time = pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes()) + ":" + pad(d.getUTCSeconds()) + " UTC";
    if (withDate === false) {
      return time;
    }
    return d.getUTCFullYear() + "-" + pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate()) + " " + time;
  }

  // The viewer's own time, written like the UTC one: "2026-12-03 09:35:12 GMT+8".
  function localText(ms) {
    var d = new Date(ms);
    var zone = "";
    try {
      var parts = new Intl.DateTimeFormat(undefined, { timeZoneName: "short" }).formatToParts(d);
      for (var i = 0; i < parts.length; i++) {
        if (parts[i].type === "timeZoneName") {
          zone = parts[i].value;
        }
      }
    } catch (e) {
      zone = "";
    }
    if (!zone) {
      var off = -d.getTimezoneOffset();
      zone = "UTC" + (off < 0 ? "-" : "+") + pad(Math.floor(Math.abs(off) / 60)) + ":" + pad(Math.abs(off) % 60);
    }
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " + pad(d.getHours()) + ":" +
      pad(d.getMinutes()) + ":" + pad(d.getSeconds()) + " " + zone;
  }

  function inLocal(ms) {
    return new Date(ms).getTimezoneOffset() === 0 ? "the same in your time zone" : localText(ms) + " your time";
  }

  function showLocal(el) {
    var ms = parseTime(el.getAttribute("datetime"));
    if (isNaN(ms)) {
      return;
    }
    var next = el.nextElementSibling;
    var span = next && next.classList.contains("local-time") ? next : null;
    if (!span) {
      span = document.createElement("span");
      span.className = "local-time";
      el.parentNode.insertBefore(span, el.nextSibling);
    }
    span.textContent = " (" + inLocal(ms) + ")";
  }

  function countdownText(ms) {
    var s = Math.ceil(ms / 1000);
    if (s <= 0) {
      return "Ended";
    }
    var days = Math.floor(s / 86400);
    s -= days * 86400;
    var h = Math.floor(s / 3600);
    s -= h * 3600;
    var m = Math.floor(s / 60);
    s -= m * 60;
    return (days ? days + " d " : "") + pad(h) + ":" + pad(m) + ":" + pad(s);
  }

  // Amounts travel as exact decimal strings ("21184500.00"); arithmetic is on whole minor units (BigInt).
  function toUnits(text, digits) {
    var m = /^(\d+)(?:\.(\d*))?$/.exec(String(text));
    if (!m) {
      return null;
    }
    var frac = (m[2] || "");
    while (frac.length < digits) {
      frac += "0";
    }
    return BigInt(m[1] + frac.slice(0, digits));
  }

  function fromUnits(units, digits) {
    var s = units.toString();
    if (!digits) {
      return s;
    }
    while (s.length <= digits) {
      s = "0" + s;
    }
    return s.slice(0, s.length - digits) + "." + s.slice(s.length - digits);
  }

  // As the server shows amounts: thousands separated, the decimals kept.
  function grouped(plain) {
    var parts = String(plain).split(".");
    parts[0] = parts[0].replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return parts.join(".");
  }

  // "650,000.00" -> "650000.00"; only correctly grouped digits lose their commas, anything else goes as typed and
  // the server says what is wrong with it.
  function plainAmount(typed) {
    var t = typed.trim();
    return /^\d{1,3}(,\d{3})+(\.\d*)?$/.test(t) ? t.replace(/,/g, "") : t;
  }

  function newKey() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return (b < 16 ? "0" : "") + b.toString(16); }).join("");
  }

  function element(tag, className, text) {
    var el = document.createElement(tag);
    if (className) {
      el.className = className;
    }
    if (text !== undefined) {
      el.textContent = text;
    }
    return el;
  }

  function badge(accepted) {
    return element("span", "badge " + (accepted ? "round-sold" : "round-failed"), accepted ? "Accepted" : "Refused");
  }

  function label(status) {
    return status.charAt(0).toUpperCase() + status.slice(1).replace(/_/g, " ");
  }

  function startRoom(state) {
    var id = state.round_id;
    var digits = state.digits;
    var currency = state.currency;
    var renderedStatus = state.status;
    var offset = parseTime(state.server_time) - Date.now();
    var startsAt = parseTime(state.starts_at);
    var endsAt = parseTime(state.ends_at);
    var status = state.status;
    var price = state.current_price;
    var leader = state.leader;
    var lastId = state.last_bid_id || 0;
    var closed = !!TERMINAL[status];
    var source = null;
    var retryMs = 1000;
    var pending = null; // {amount, key}: a submission that has had no answer yet
    var busy = false;

    var form = document.getElementById("bid-form");
    var input = document.getElementById("bid-amount");
    var button = form ? form.querySelector("button[type=submit]") : null;
    var errorBox = document.getElementById("bid-error");
    var okBox = document.getElementById("bid-ok");

    function live(name) {
      return document.querySelector('[data-live="' + name + '"]');
    }

    function setText(name, text) {
      var els = document.querySelectorAll('[data-live="' + name + '"]');
      for (var i = 0; i < els.length; i++) {
        els[i].textContent = text;
      }
    }

    function serverNow() {
      return Date.now() + offset;
    }

    function minimum() {
      var start = toUnits(state.starting_price, digits);
      if (!price || !leader) {
        return fromUnits(start, digits);
      }
      var current = toUnits(price, digits);
      // A pre-emption right takes the lead at the same price from a leader of a lower right (or none).
      if (state.rank !== null && state.rank !== undefined && state.not_outranked.indexOf(leader) < 0) {
        return fromUnits(current, digits);
      }
      return fromUnits(current + toUnits(state.increment, digits), digits);
    }

    function feedCount() {
      return document.querySelectorAll('[data-live="feed"] > li').length;
    }

    function render() {
      setText("current_price", price ? grouped(price) : "No bid yet");
      var cur = live("price_currency");
      if (cur) {
        cur.hidden = !price;
      }
      setText("leader", leader || "—");
      setText("bid_count", String(feedCount()));
      var empty = live("feed_empty");
      if (empty) {
        empty.hidden = feedCount() > 0;
      }
      var least = grouped(minimum());
      setText("minimum", least);
      if (input) {
        input.placeholder = least;
      }
      var note = live("lead_note");
      if (note) {
        note.hidden = !(state.me && leader === state.me);
      }
      updateButton();
      var badgeEl = live("status");
      if (badgeEl && badgeEl.getAttribute("data-status") !== status) {
        badgeEl.setAttribute("data-status", status);
        badgeEl.className = "badge round-" + status;
        badgeEl.textContent = label(status);
      }
    }

    function showEnds() {
      var iso = new Date(endsAt).toISOString();
      var els = document.querySelectorAll('[data-live="ends_at"], [data-live="ends_at_plain"]');
      for (var i = 0; i < els.length; i++) {
        els[i].setAttribute("datetime", iso);
        els[i].textContent = utcText(endsAt);
        if (els[i].hasAttribute("data-local-time")) {
          showLocal(els[i]);
        }
      }
    }

    function moveEnd(newEnd) {
      if (isNaN(newEnd) || newEnd === endsAt) {
        return;
      }
      var later = newEnd > endsAt;
      endsAt = newEnd;
      showEnds();
      if (later) {
        var local = new Date(endsAt).getTimezoneOffset() === 0 ? "" : " That is " + localText(endsAt) + " your time.";
        setText("announce", "Extended to " + utcText(endsAt, false) + " by a bid in the last " +
          state.soft_close_minutes + " minutes." + local);
      }
      tick();
    }

    function updateButton() {
      if (!button) {
        return;
      }
      var now = serverNow();
      var leading = !!state.me && leader === state.me; // the server would refuse: a leader does not raise itself
      button.disabled = busy || closed || leading || now < startsAt || now >= endsAt;
    }

    function tick() {
      var now = serverNow();
      var beforeStart = now < startsAt && !closed;
      var left = (beforeStart ? startsAt : endsAt) - now;
      var el = live("countdown");
      if (el) {
        el.textContent = closed ? "Ended" : countdownText(left);
        el.setAttribute("data-remaining", String(closed ? 0 : Math.max(0, Math.ceil(left / 1000))));
        el.setAttribute("data-server-offset", String(offset));
      }
      if (beforeStart) {
        setText("countdown_label", "Bidding opens in");
      } else if (closed || left <= 0) {
        setText("countdown_label", closed ? "Bidding has ended" : "Bidding has ended; the result follows");
      } else {
        setText("countdown_label", "Time left");
        if (status === "scheduled") {
          status = "bidding";
          render();
        }
      }
      updateButton();
    }

    function addToFeed(b) {
      var feed = live("feed");
      if (!feed || feed.querySelector('[data-bid-id="' + b.id + '"]')) {
        return;
      }
      var li = element("li", "new");
      li.setAttribute("data-bid-id", String(b.id));
      li.appendChild(element("span", "alias", b.alias));
      li.appendChild(document.createTextNode(" "));
      li.appendChild(element("span", "amount", grouped(b.amount) + " " + currency));
      li.appendChild(document.createTextNode(" "));
      var at = element("time", "", utcText(parseTime(b.at)));
      at.setAttribute("datetime", b.at);
      li.appendChild(at);
      feed.insertBefore(li, feed.firstChild);
    }

    function whenCell(ms) {
      // Date and time apart, so a narrow column breaks between them and nowhere else.
      var text = utcText(ms);
      var td = element("td", "when");
      td.appendChild(element("span", "", text.slice(0, 10)));
      td.appendChild(document.createTextNode(" "));
      td.appendChild(element("span", "", text.slice(11)));
      return td;
    }

    function bidRows(tbody, list, withBidder) {
      var columns = withBidder ? 5 : 3;
      while (tbody.firstChild) {
        tbody.removeChild(tbody.firstChild);
      }
      if (!list.length) {
        var tr0 = element("tr", "empty");
        var td0 = element("td", "muted", withBidder ? "No bid yet." : "You have not bid in this round.");
        td0.colSpan = columns;
        tr0.appendChild(td0);
        tbody.appendChild(tr0);
        return;
      }
      for (var i = list.length - 1; i >= 0; i--) { // newest first
        var b = list[i];
        var tr = element("tr");
        tr.setAttribute("data-bid-id", String(b.bid_id));
        tr.setAttribute("data-accepted", b.accepted ? "true" : "false");
        if (withBidder) {
          tr.appendChild(element("td", "ref", String(b.bid_id)));
        }
        tr.appendChild(whenCell(parseTime(b.received_at)));
        if (withBidder) {
          var who = element("td");
          who.appendChild(element("span", "alias", b.alias));
          who.appendChild(document.createTextNode(" "));
          who.appendChild(element("span", "muted", (state.usernames || {})[b.alias] || ""));
          tr.appendChild(who);
        }
        tr.appendChild(element("td", "amount", grouped(b.amount)));
        var result = element("td");
        result.appendChild(badge(b.accepted));
        if (!b.accepted) {
          result.appendChild(document.createTextNode(" "));
          result.appendChild(element("span", "wrap reason", b.reason));
        }
        tr.appendChild(result);
        tbody.appendChild(tr);
      }
    }

    function refreshBids() {
      var own = live("own_bids");
      var all = live("all_bids");
      if (!own && !all) {
        return;
      }
      // Staff get every bid of the round, refused ones with their reason; a bidder gets their own.
      fetch("/api/rounds/" + id + "/bids", { credentials: "same-origin", headers: { accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (list) {
          if (list) {
            bidRows(all || own, list, !!all);
          }
        })
        .catch(function () {});
    }

    function resultText(r) {
      var mine = state.me;
      if (r.status === "sold") {
        var text = "Sold to " + r.leader + " at " + grouped(r.current_price) + " " + currency + ".";
        if (mine && r.leader === mine) {
          text += " You won: pay the balance by " + (r.balance_due_on || "the due date") +
            "; your deposit counts toward the price.";
        } else if (mine) {
          text += " Your deposit is to be refunded.";
        }
        return text;
      }
      if (r.status === "failed") {
        return "No bid was accepted: the round failed." + (mine ? " Your deposit is to be refunded." : "");
      }
      return "The winner did not pay the balance: the sale fell through and the winner's deposit is forfeited.";
    }

    function onClosed() {
      closed = true;
      if (form) {
        form.hidden = true;
      }
      render();
      tick();
      if (state.view === "manage" && status !== renderedStatus) {
        window.location.reload(); // the winner, the deposits and the default button come from the server
        return;
      }
      fetch("/api/rounds/" + id, { credentials: "same-origin", headers: { accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (r) {
          if (!r) {
            return;
          }
          var box = live("result");
          setText("result_text", resultText(r));
          var labels = { sold: ["Sold at", "Won by"], defaulted: ["Hammer price", "Highest bidder"] }[r.status];
          if (labels) {
            setText("price_label", labels[0]);
            setText("leader_label", labels[1]);
          }
          setText("ends_word", "Ended");
          setText("bid_title", "Your deposit");
          if (box) {
            box.hidden = false;
          }
        })
        .catch(function () {});
    }

    function onSnapshot(r) {
      offset = parseTime(r.server_time) - Date.now();
      startsAt = parseTime(r.starts_at);
      price = r.current_price;
      leader = r.leader;
      moveEnd(parseTime(r.ends_at));
      status = r.status;
      render();
      tick();
      if (TERMINAL[status]) {
        onClosed();
      }
    }

    function onBid(b) {
      if (b.id <= lastId) {
        return; // already shown: the page had it, or the stream replayed it after a reconnect
      }
      lastId = b.id;
      price = b.current_price;
      leader = b.leader;
      if (pending && !busy && state.me && b.alias === state.me &&
          toUnits(b.amount, digits) === toUnits(pending.amount, digits)) {
        // The answer to this submission was lost, but the feed says the server took it: no retry is needed.
        pending = null;
        showError(null);
        okBox.textContent = "Your bid of " + grouped(b.amount) + " " + currency + " was accepted.";
      }
      addToFeed(b);
      moveEnd(parseTime(b.ends_at));
      render();
      if (state.view === "manage" || (state.me && b.leader === state.me)) {
        refreshBids();
      }
    }

    function onStatus(s) {
      if (s.ends_at) {
        moveEnd(parseTime(s.ends_at));
      }
      status = s.status;
      render();
      if (TERMINAL[status]) {
        onClosed();
      }
    }

    function setConnection(what) {
      var el = live("connection");
      if (!el) {
        return;
      }
      el.setAttribute("data-state", what);
      el.textContent = {
        connecting: "Connecting to the live feed…",
        live: "Live: bids appear as the server accepts them.",
        reconnecting: "Connection lost; reconnecting…"
      }[what];
    }

    function connect() {
      if (source) {
        source.close();
      }
      setConnection("connecting");
      source = new EventSource("/api/rounds/" + id + "/events");
      source.onopen = function () {
        retryMs = 1000;
        setConnection("live");
      };
      source.addEventListener("snapshot", function (e) { onSnapshot(JSON.parse(e.data)); });
      source.addEventListener("bid", function (e) { onBid(JSON.parse(e.data)); });
      source.addEventListener("status", function (e) { onStatus(JSON.parse(e.data)); });
      source.onerror = function () {
        setConnection("reconnecting");
        if (source.readyState === EventSource.CLOSED) {
          // Refused or gone for good (EventSource gives up): start again, more slowly each time.
          window.setTimeout(connect, retryMs);
          retryMs = Math.min(retryMs * 2, 30000);
        }
      };
    }

    function showError(text) {
      if (!errorBox) {
        return;
      }
      errorBox.textContent = text || "";
      errorBox.hidden = !text;
      if (input) {
        if (text) {
          input.setAttribute("aria-invalid", "true");
        } else {
          input.removeAttribute("aria-invalid");
        }
      }
    }

    function submit(ev) {
      ev.preventDefault();
      if (busy) {
        return;
      }
      var amount = plainAmount(input.value);
      if (!amount) {
        showError("Type an amount: at least " + grouped(minimum()) + " " + currency + ".");
        return;
      }
      if (!pending || pending.amount !== amount) {
        pending = { amount: amount, key: newKey() };
      }
      var sent = pending;
      busy = true;
      updateButton();
      showError(null);
      okBox.textContent = "Sending your bid…";
      fetch("/api/rounds/" + id + "/bids", {
        method: "POST",
        credentials: "same-origin",
        headers: {
          "content-type": "application/json",
          accept: "application/json, application/problem+json",
          "Idempotency-Key": sent.key
        },
        body: JSON.stringify({ amount: amount })
      })
        .then(function (response) {
          return response.json()
            .catch(function () { return {}; })
            .then(function (body) { return { status: response.status, body: body }; });
        })
        .then(function (answer) {
          if (pending === sent) {
            pending = null; // answered: the next submission is a new bid with a new key
          }
          var body = answer.body || {};
          if (answer.status === 201) {
            okBox.textContent = "Your bid of " + grouped(body.amount) + " " + currency + " was accepted.";
            input.value = "";
            onBid({
              id: body.bid_id, alias: body.leader, amount: body.amount, current_price: body.current_price,
              leader: body.leader, ends_at: body.ends_at, at: new Date(serverNow()).toISOString()
            });
          } else {
            okBox.textContent = "";
            showError(answer.status === 401 ? "Your session has ended: sign in again to bid."
              : (body.detail || body.title || "The bid was refused (" + answer.status + ")."));
          }
          refreshBids();
        })
        .catch(function () {
          okBox.textContent = "";
          showError("No answer from the server: your bid of " + grouped(amount) + " " + currency +
            " may not have arrived. Press Place bid again to retry it; it will not be placed twice.");
        })
        .then(function () {
          busy = false;
          updateButton();
        });
    }

    if (form && input) {
      form.addEventListener("submit", submit);
      var fill = form.querySelector("[data-fill-minimum]");
      if (fill) {
        fill.addEventListener("click", function () {
          input.value = grouped(minimum());
          input.focus();
        });
      }
    }
    render();
    tick();
    window.setInterval(tick, 250);
    if (typeof window.EventSource === "function") {
      connect();
    }
  }

  function start() {
    var times = document.querySelectorAll("time[data-local-time]");
    for (var i = 0; i < times.length; i++) {
      showLocal(times[i]);
    }
    var confirmed = document.querySelectorAll("form[data-confirm]");
    for (var j = 0; j < confirmed.length; j++) {
      confirmed[j].addEventListener("submit", function (ev) {
        if (!window.confirm(ev.currentTarget.getAttribute("data-confirm"))) {
          ev.preventDefault();
        }
      });
    }
    var source = document.getElementById("auction-state");
    if (source) {
      startRoom(JSON.parse(source.textContent));
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
