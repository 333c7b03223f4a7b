// Guanxi's only script: what server-rendered pages cannot do alone.
"use strict";

// Forms with data-confirm state their consequence before acting; so does a
// submit button with its own data-confirm-click (one step of a wizard).
document.addEventListener("submit", (event) => {
  const form = event.target;
  const button = event.submitter;
  const message = (button && button.getAttribute("data-confirm-click")) ||
    (form.getAttribute && form.getAttribute("data-confirm"));
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

// Filter selects apply at once (the 筛选 button stays for keyboards and no-JS).
document.addEventListener("change", (event) => {
  const t = event.target;
  if (t instanceof HTMLSelectElement && t.hasAttribute("data-autosubmit") && t.form) {
    // A new province makes the chosen city meaningless.
    if (t.name === "province" && t.form.elements.city) t.form.elements.city.value = "";
    t.form.submit();
  }
});

// The new-account form warns of likely duplicates (查重) while the name,
// USCC or phones are typed, from the same check that guards saving.
(() => {
  const form = document.querySelector("form[data-dupcheck]");
  const box = document.getElementById("dup-live");
  if (!form || !box) return;
  const reasons = JSON.parse(box.dataset.reasons || "{}");
  let timer = null;
  let asked = "";
  const check = async () => {
    const name = form.elements.name.value.trim();
    const uscc = form.elements.uscc.value.trim();
    const phones = form.elements.phones.value.split(/[\n,，;；]/).map((p) => p.trim()).filter(Boolean);
    const body = JSON.stringify({ name, uscc: uscc || null, phones });
    if ([...name].length < 4 || body === asked) return;
    asked = body;
    try {
      const res = await fetch("/api/v1/accounts/duplicates", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": form.elements._csrf.value },
        body,
      });
      // Incomplete USCCs or phones are refused while typing: keep the last answer.
      if (!res.ok) return;
      const found = await res.json();
      box.replaceChildren();
      if (found.length === 0) {
        box.hidden = true;
        return;
      }
      const p = document.createElement("p");
      p.textContent = box.dataset.title;
      const ul = document.createElement("ul");
      found.slice(0, 5).forEach((c) => {
        const li = document.createElement("li");
        const a = document.createElement("a");
        a.href = "/accounts/" + c.id;
        a.textContent = c.name;
        const why = c.reasons.map((r) => reasons[r] || r).join("、");
        const verdict = c.verdict === "same" ? box.dataset.same : box.dataset.possible;
        const owner = c.owner_name ? " · " + box.dataset.owner + " " + c.owner_name : "";
        li.append(a, " · " + verdict + " · " + why + owner);
        ul.append(li);
      });
      box.append(p, ul);
      box.hidden = false;
    } catch (_) {
      // The check is a help; saving checks again.
    }
  };
  form.addEventListener("input", (event) => {
    if (!["name", "uscc", "phones"].includes(event.target.name)) return;
    clearTimeout(timer);
    timer = setTimeout(check, 400);
  });
})();

// The division-code field becomes province / city / district selects fed by
// /api/v1/divisions; the code stays in the field (typed codes still work
// without this script).
(() => {
  const input = document.querySelector("input[data-region-picker]");
  if (!input) return;
  // Read before the field is hidden: hidden inputs have no labels.
  const label = input.labels && input.labels[0] ? input.labels[0].textContent : "";
  const holder = document.createElement("div");
  holder.className = "region-picker";
  input.after(holder);
  const load = async (parent) => {
    const res = await fetch("/api/v1/divisions" + (parent ? "?parent=" + parent : ""), { credentials: "same-origin" });
    return res.ok ? res.json() : [];
  };
  // Select `level` shows the children of `parent`; choosing one sets the code and opens the next level.
  const level = async (depth, parent, wanted) => {
    while (holder.children.length > depth) holder.lastChild.remove();
    const items = await load(parent);
    if (items.length === 0) return;
    const select = document.createElement("select");
    select.setAttribute("aria-label", label + " " + (depth + 1));
    select.append(new Option(input.dataset.any || "--", ""));
    items.forEach((d) => select.append(new Option(d.name, d.code)));
    // A province covers the codes sharing its first 2 digits, a city its first 4.
    const prefix = (code) => code.slice(0, code.endsWith("0000") ? 2 : code.endsWith("00") ? 4 : 6);
    const match = items.find((d) => wanted && wanted.startsWith(prefix(d.code)));
    if (match) select.value = match.code;
    select.addEventListener("change", () => {
      input.value = select.value || parent || "";
      level(depth + 1, select.value, null);
    });
    holder.append(select);
    if (match && match.code !== wanted) await level(depth + 1, match.code, wanted);
    else if (match) await level(depth + 1, match.code, null);
  };
  input.type = "hidden";
  level(0, null, input.value.trim() || null);
})();
