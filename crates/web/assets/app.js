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

// Import (导入): the file goes up in 1 MB chunks, each sent at the offset the
// server already has, so a dropped connection on a slow link retries where
// it stopped instead of starting over; then the server reads the columns and
// the mapping is checked here before a dry run or the import itself.
(() => {
  const form = document.getElementById("import-form");
  if (!form) return;
  const CHUNK = 1024 * 1024;
  const csrf = form.elements._csrf.value;
  const labels = JSON.parse(form.dataset.labels || "{}");
  const $ = (id) => document.getElementById(id);
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  let fileId = null;
  let preview = null;

  const say = (text) => { $("i_status").textContent = text; };
  const fail = (text) => { const box = $("i_error"); box.textContent = text; box.hidden = !text; };
  const problem = (data, fallback) => (data && (data.errors && data.errors.length
    ? data.errors.map((e) => e.message).join("；") : data.detail)) || fallback;

  async function api(method, url, body) {
    const res = await fetch(url, {
      method, credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const data = res.status === 204 ? {} : await res.json().catch(() => ({}));
    if (!res.ok) throw Object.assign(new Error(problem(data, res.statusText)), { status: res.status });
    return data;
  }

  function putChunk(id, offset, blob, onProgress) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("PUT", "/api/v1/uploads/" + id + "?offset=" + offset);
      xhr.setRequestHeader("X-CSRF-Token", csrf);
      xhr.setRequestHeader("Content-Type", "application/octet-stream");
      xhr.timeout = 120000;
      xhr.upload.onprogress = (e) => onProgress(e.loaded);
      xhr.onload = () => {
        let data = {};
        try { data = JSON.parse(xhr.responseText); } catch (_) { /* not JSON */ }
        if (xhr.status === 200) resolve(data);
        else reject(Object.assign(new Error(problem(data, xhr.statusText)), { status: xhr.status }));
      };
      xhr.onerror = xhr.ontimeout = () => reject(Object.assign(new Error("network"), { status: 0 }));
      xhr.send(blob);
    });
  }

  function showProgress(done, total) {
    const pct = total ? Math.floor((done * 100) / total) : 100;
    $("i_bar").value = pct;
    say(form.dataset.tUploading + " " + pct + "% (" + (done / 1048576).toFixed(1) + " / " + (total / 1048576).toFixed(1) + " MB)");
  }

  async function upload(file) {
    const up = await api("POST", "/api/v1/uploads", { name: file.name, size: file.size });
    let offset = up.received;
    let failures = 0;
    showProgress(offset, file.size);
    while (offset < file.size) {
      try {
        const start = offset;
        const got = await putChunk(up.id, start, file.slice(start, start + CHUNK), (n) => showProgress(start + n, file.size));
        offset = got.received;
        failures = 0;
      } catch (e) {
        // The server refused the chunk itself (too large, gone): no retry helps.
        if (e.status >= 400 && e.status < 500 && ![408, 409, 429].includes(e.status)) throw e;
        failures += 1;
        if (failures > 40) throw e;
        say(form.dataset.tRetrying);
        await sleep(Math.min(30000, 1000 * 2 ** Math.min(failures, 5)));
        try { offset = (await api("GET", "/api/v1/uploads/" + up.id)).received; } catch (_) { /* try again */ }
      }
      showProgress(offset, file.size);
    }
    return up.id;
  }

  function chosenColumns() {
    return Array.from($("i_columns").querySelectorAll("select"))
      .filter((s) => s.value)
      .map((s) => ({ column: s.dataset.column, field: s.value }));
  }

  function options(extra) {
    const o = {
      file_id: fileId,
      kind: form.elements.kind.value || (preview ? preview.kind : null),
      preset: form.elements.preset.value || null,
      on_error: form.elements.on_error.value,
      update_existing: form.elements.update_existing.checked,
    };
    return Object.assign(o, extra || {});
  }

  function showMapping(p) {
    preview = p;
    $("i_format").textContent = p.format;
    const body = $("i_columns");
    body.textContent = "";
    p.columns.forEach((c) => {
      const tr = document.createElement("tr");
      const name = document.createElement("td");
      name.textContent = c.column;
      const samples = document.createElement("td");
      samples.className = "muted";
      samples.textContent = c.samples.filter((v) => v).join(" · ");
      const pick = document.createElement("td");
      const select = document.createElement("select");
      select.dataset.column = c.column;
      select.setAttribute("aria-label", c.column);
      const none = new Option(form.dataset.tIgnore, "");
      select.add(none);
      p.fields.filter((f) => f !== "ignore").forEach((f) => select.add(new Option(labels[f] || f, f)));
      select.value = c.field && c.field !== "ignore" ? c.field : "";
      pick.appendChild(select);
      tr.append(name, samples, pick);
      body.appendChild(tr);
    });
    $("i_mapping").hidden = false;
  }

  async function refresh(columns) {
    if (!fileId) return;
    fail("");
    say(form.dataset.tReading);
    try {
      showMapping(await api("POST", "/api/v1/imports/preview", options(columns ? { columns } : {})));
      say("");
    } catch (e) { fail(e.message); say(""); }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = form.elements.file.files[0];
    if (!file) return;
    fail("");
    if (file.size > Number(form.dataset.max)) { fail(form.dataset.tTooLarge); return; }
    $("i_progress").hidden = false;
    $("i_upload").disabled = true;
    try {
      fileId = await upload(file);
      await refresh(savedColumns());
    } catch (e) { fail(e.message); } finally { $("i_upload").disabled = false; }
  });

  function savedColumns() {
    const opt = form.elements.saved.selectedOptions[0];
    if (!opt || !opt.value) return null;
    return JSON.parse(opt.dataset.columns || "[]");
  }

  form.elements.saved.addEventListener("change", () => {
    const opt = form.elements.saved.selectedOptions[0];
    if (opt && opt.value) {
      form.elements.kind.value = opt.dataset.kind;
      form.elements.preset.value = opt.dataset.preset || "";
    }
    const cols = savedColumns();
    // A saved mapping names columns; only those this file has apply.
    const have = preview ? new Set(preview.columns.map((c) => c.column)) : null;
    refresh(cols && have ? cols.filter((c) => have.has(c.column)) : cols);
  });
  form.elements.kind.addEventListener("change", () => refresh(null));
  form.elements.preset.addEventListener("change", () => refresh(null));

  async function start(dry) {
    fail("");
    try {
      const created = await api("POST", "/api/v1/imports", options({ columns: chosenColumns(), dry_run: dry }));
      window.location.href = "/imports/" + created.id;
    } catch (e) { fail(e.message); }
  }
  $("i_dry").addEventListener("click", () => start(true));
  $("i_run").addEventListener("click", () => start(false));
  $("i_save").addEventListener("click", async () => {
    const name = $("i_save_name").value.trim();
    if (!name || !preview) return;
    try {
      await api("POST", "/api/v1/import-mappings", {
        name, kind: options().kind, preset: form.elements.preset.value || null, columns: chosenColumns(),
      });
      say(form.dataset.tSaved);
    } catch (e) { fail(e.message); }
  });
})();

// An import's page follows its progress until it ends, then shows the report.
(() => {
  const box = document.querySelector("[data-poll]");
  if (!box) return;
  const tick = async () => {
    try {
      const res = await fetch(box.dataset.poll, { credentials: "same-origin" });
      if (res.ok) {
        const i = await res.json();
        const pct = i.file_size ? Math.min(100, Math.floor((i.bytes_read * 100) / i.file_size)) : 100;
        document.getElementById("import-bar").value = pct;
        document.getElementById("import-percent").textContent = pct + "%";
        document.getElementById("import-rows").textContent = i.rows_read;
        box.querySelectorAll("[data-count]").forEach((td) => { td.textContent = i[td.dataset.count]; });
        if (i.status !== "queued" && i.status !== "running") { window.location.reload(); return; }
      }
    } catch (_) { /* the next tick tries again */ }
    setTimeout(tick, 1000);
  };
  setTimeout(tick, 1000);
})();
