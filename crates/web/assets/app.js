// Guanxi's only script: what server-rendered pages cannot do alone.
"use strict";

// Forms with data-confirm state their consequence before acting.
document.addEventListener("submit", (event) => {
  const form = event.target;
  const message = form.getAttribute && form.getAttribute("data-confirm");
  if (message && !window.confirm(message)) {
    event.preventDefault();
  }
});

// Esc closes an open menu.
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape") {
    document.querySelectorAll("details[open]").forEach((d) => d.removeAttribute("open"));
  }
});

// The header's search box suggests accounts and contacts as you type (from
// /api/v1/search, the same index as the search page); arrows pick, Enter
// opens, "/" anywhere focuses it.
(() => {
  const input = document.getElementById("gx-search");
  const list = document.getElementById("gx-suggest");
  if (!input || !list) return;
  let timer = null;
  let active = -1;
  let asked = "";

  const close = () => {
    list.hidden = true;
    list.replaceChildren();
    input.setAttribute("aria-expanded", "false");
    active = -1;
  };
  const mark = (i) => {
    const items = list.querySelectorAll("li");
    items.forEach((li, j) => li.setAttribute("aria-selected", j === i ? "true" : "false"));
    active = i;
  };
  const show = (items) => {
    list.replaceChildren();
    items.forEach((hit, i) => {
      const li = document.createElement("li");
      li.setAttribute("role", "option");
      li.id = "gx-suggest-" + i;
      const a = document.createElement("a");
      a.href = "/" + hit.kind + "s/" + hit.id;
      const kind = document.createElement("span");
      kind.className = "badge grey";
      kind.textContent = input.dataset[hit.kind === "account" ? "kindAccount" : "kindContact"] || hit.kind;
      const name = document.createElement("span");
      name.textContent = hit.name;
      a.append(kind, " ", name);
      if (hit.detail) {
        const d = document.createElement("span");
        d.className = "muted";
        d.textContent = " " + hit.detail;
        a.append(d);
      }
      li.append(a);
      list.append(li);
    });
    list.hidden = items.length === 0;
    input.setAttribute("aria-expanded", items.length ? "true" : "false");
    active = -1;
  };
  const ask = async () => {
    const q = input.value.trim();
    if (q === asked) return;
    asked = q;
    if ([...q].length < 2) {
      close();
      return;
    }
    try {
      const res = await fetch("/api/v1/search?limit=8&q=" + encodeURIComponent(q), { credentials: "same-origin" });
      if (!res.ok || input.value.trim() !== q) return;
      show((await res.json()).items || []);
    } catch (_) {
      close();
    }
  };
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(ask, 150);
  });
  input.addEventListener("keydown", (event) => {
    const items = list.querySelectorAll("li");
    if (event.key === "ArrowDown" && items.length) {
      event.preventDefault();
      mark((active + 1) % items.length);
    } else if (event.key === "ArrowUp" && items.length) {
      event.preventDefault();
      mark((active - 1 + items.length) % items.length);
    } else if (event.key === "Enter" && active >= 0) {
      event.preventDefault();
      window.location.href = items[active].querySelector("a").href;
    } else if (event.key === "Escape") {
      close();
    }
  });
  input.addEventListener("blur", () => setTimeout(close, 200));
  document.addEventListener("keydown", (event) => {
    const t = event.target;
    const typing = t instanceof HTMLElement && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName));
    if (event.key === "/" && !typing && !event.ctrlKey && !event.metaKey) {
      event.preventDefault();
      input.focus();
    }
  });
})();
