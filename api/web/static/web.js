// The web leaderboard's script: fills the page shells from the JSON routes (/api/v1, with the
// login cookie), keeps them live by polling a cheap "changed since" route, and never builds
// HTML from strings: every user-supplied text goes in through textContent.
"use strict";

(() => {
  const POLL_MS = 1000;
  const PLOTS_EVERY_MS = 4000;
  const role = document.body.dataset.role || "";
  const canWrite = role === "write" || role === "admin";

  async function api(path, options) {
    const opts = Object.assign({ credentials: "same-origin" }, options || {});
    opts.headers = Object.assign({ "X-Tuner-Page": "1" }, opts.headers || {});
    const response = await fetch(`/api/v1${path}`, opts);
    if (response.status === 401) {
      window.location.assign("/login");
      throw new Error("logged out");
    }
    const body = response.status === 204 ? null : await response.json();
    if (!response.ok) {
      const err = new Error((body && body.error && body.error.message) || response.statusText);
      err.body = body;
      err.status = response.status;
      throw err;
    }
    return body;
  }

  function el(tag, attrs, ...children) {
    const n = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") n.className = v;
      else if (k === "text") n.textContent = String(v);
      else n.setAttribute(k, String(v));
    }
    for (const c of children) {
      if (c === null || c === undefined) continue;
      n.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    }
    return n;
  }

  function clear(n) { while (n.firstChild) n.removeChild(n.firstChild); }
  const $ = (id) => document.getElementById(id);
  const enc = encodeURIComponent;

  function show(x) {
    if (x === null || x === undefined) return "";
    if (typeof x === "number") return Plots.fmt(x);
    if (typeof x === "object") return JSON.stringify(x);
    return String(x);
  }

  function seconds(s) {
    if (s === null || s === undefined) return "";
    if (s < 60) return `${s.toFixed(1)} s`;
    if (s < 3600) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
    return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
  }

  function when(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    return d.toLocaleString(undefined, { dateStyle: "short", timeStyle: "medium" });
  }

  function live(ok) {
    const badge = $("live");
    if (badge) { badge.textContent = ok ? "live" : "offline"; badge.className = ok ? "live" : "live off"; }
  }

  // ---------------------------------------------------------------- studies (/)
  function studiesPage() {
    const state = { sort: "created_at", descending: true, rows: [] };
    const body = document.querySelector("#studies tbody");

    function value(s, key) {
      if (key === "progress") return s.planned ? s.done / s.planned : 0;
      if (key === "duration") return s.duration;
      return s[key];
    }

    function draw() {
      const q = $("search").value.trim().toLowerCase();
      const rows = state.rows.filter((s) => s.name.toLowerCase().includes(q));
      rows.sort((a, b) => {
        const x = value(a, state.sort), y = value(b, state.sort);
        const c = x === y ? 0 : x === null || x === undefined ? 1 : y === null || y === undefined ? -1 : x < y ? -1 : 1;
        return state.descending ? -c : c;
      });
      clear(body);
      for (const s of rows) {
        const bars = el("div", { class: "rounds" });
        for (const r of s.progress || []) {
          const bar = el("span", { class: "round-bar", title: `round ${r.round} (${r.algorithm}): ${r.done} / ${r.planned}` });
          const fill = el("i", { class: "fill" });
          fill.style.width = `${Math.min(100, (100 * r.done) / Math.max(1, r.planned))}%`;
          bar.appendChild(fill);
          bar.appendChild(el("b", { text: `${r.done}/${r.planned}` }));
          bars.appendChild(bar);
        }
        body.appendChild(el("tr", { "data-name": s.name },
          el("td", {}, el("a", { href: `/studies/${enc(s.name)}`, text: s.name })),
          el("td", { class: `state ${s.state}`, text: s.state }),
          el("td", { text: `${s.round} / ${s.rounds}` }),
          el("td", {}, el("span", { class: "total", text: `${s.done} / ${s.planned}` }), bars),
          el("td", { class: "num", text: s.metrics ? `${s.metrics[0]} ${show(s.best_value)} · ${s.metrics.length} metrics` : show(s.best_value),
            title: s.metrics ? `several metrics: the best ${s.metrics[0]}; the study's page shows the Pareto front` : "" }),
          el("td", { text: when(s.created_at) }),
          el("td", { text: seconds(s.duration) })));
      }
      $("no-studies").hidden = state.rows.length > 0;
      document.querySelectorAll("#studies th").forEach((th) => {
        th.className = th.dataset.key === state.sort ? (state.descending ? "sorted desc" : "sorted asc") : "";
      });
    }

    async function load() {
      try {
        const [studies, progress] = await Promise.all([api("/studies"), api("/progress")]);
        const byName = Object.fromEntries(progress.map((p) => [p.name, p.rounds]));
        const now = Date.now();
        state.rows = studies.map((s) => {
          const start = s.created_at ? Date.parse(s.created_at) : null;
          const end = s.state === "running" ? now : s.updated_at ? Date.parse(s.updated_at) : now;
          return Object.assign(s, { progress: byName[s.name] || [], duration: start ? (end - start) / 1000 : null });
        });
        draw();
        live(true);
      } catch (e) {
        live(false);
      }
    }

    document.querySelectorAll("#studies th").forEach((th) => th.addEventListener("click", () => {
      state.descending = state.sort === th.dataset.key ? !state.descending : false;
      state.sort = th.dataset.key;
      draw();
    }));
    $("search").addEventListener("input", draw);
    load();
    setInterval(load, 2000);
  }

  // ---------------------------------------------------------------- study (/studies/{name})
  function studyPage(section) {
    const name = section.dataset.study;
    const base = `/studies/${enc(name)}`;
    const view = { sort: "rank", descending: false, states: [], round: "", param: "", low: "", high: "", choice: "", offset: 0, limit: 50 };
    let fingerprint = "", columns = [], plotsAt = 0, plotsPrint = "", busy = false, summary = null;
    const table = $("leaderboard");

    $("csv").href = `/api/v1${base}/download?format=csv`;
    $("json").href = `/api/v1${base}/download?format=json`;

    function query() {
      const q = new URLSearchParams({ sort: view.sort, descending: String(view.descending), offset: String(view.offset), limit: String(view.limit) });
      view.states.forEach((s) => q.append("state", s));
      if (view.round) q.set("round", view.round);
      if (view.param) {
        const col = columns.find((c) => c.key === `param:${view.param}`);
        if (col && col.type === "categorical") { if (view.choice !== "") q.append("param", `${view.param}=${view.choice}`); }
        else if (view.low !== "" || view.high !== "") q.append("param", `${view.param}:${view.low}:${view.high}`);
      }
      return q.toString();
    }

    function header() {
      const row = table.querySelector("thead tr");
      clear(row);
      for (const c of columns) {
        const th = el("th", { "data-key": c.key, title: `sort by ${c.label}`, text: c.label, class: c.key === view.sort ? (view.descending ? "sorted desc" : "sorted asc") : "" });
        th.addEventListener("click", () => {
          view.descending = view.sort === c.key ? !view.descending : false;
          view.sort = c.key;
          view.offset = 0;
          refresh();
        });
        row.appendChild(th);
      }
    }

    function cell(c, r) {
      if (c.key === "number") return el("td", { class: "num" }, el("a", { href: `${base}/trials/${r.number}`, text: String(r.number) }));
      if (c.key === "state") return el("td", { class: `state ${r.state}`, text: r.state });
      if (c.key === "duration") return el("td", { class: "num", text: seconds(r.duration) });
      if (c.kind === "param") return el("td", { class: "param", text: show(r.params[c.label]) });
      if (c.kind === "metric") return el("td", { class: "num", text: show(r.metrics[c.label]) });
      return el("td", { class: typeof r[c.key] === "number" ? "num" : "", text: show(r[c.key]) });
    }

    function filtersFrom(cols) {
      const fieldset = $("states");
      if (!fieldset.querySelector("input")) {
        for (const s of ["waiting", "running", "complete", "failed", "pruned"]) {
          const box = el("input", { type: "checkbox", value: s, id: `state-${s}` });
          fieldset.appendChild(el("label", {}, box, s));
        }
      }
      const select = $("param");
      if (select.options.length === 1) {
        for (const c of cols.filter((x) => x.kind === "param")) select.appendChild(el("option", { value: c.label, text: c.label }));
      }
    }

    function rounds(n) {
      const select = $("round");
      while (select.options.length - 1 < n) {
        const r = select.options.length;
        select.appendChild(el("option", { value: String(r), text: `${r}` }));
      }
    }

    // One table request at a time; a change of view meanwhile (a click, a filter) asks again
    // once it is answered, so that no click is lost.
    let again = false;
    async function refresh() {
      if (busy) { again = true; return; }
      busy = true;
      again = false;
      try {
        const page = await api(`${base}/table?${query()}`);
        $("table-error").textContent = "";
        const changedColumns = JSON.stringify(page.columns.map((c) => c.key)) !== JSON.stringify(columns.map((c) => c.key));
        columns = page.columns;
        if (changedColumns || !table.querySelector("thead th")) header();
        else table.querySelectorAll("thead th").forEach((th) => {
          th.className = th.dataset.key === view.sort ? (view.descending ? "sorted desc" : "sorted asc") : "";
        });
        filtersFrom(columns);
        const body = table.querySelector("tbody");
        const rows = page.rows.map((r) => {
          const tr = el("tr", { "data-number": String(r.number), class: r.rank === 1 ? "best" : "" });
          for (const c of columns) tr.appendChild(cell(c, r));
          return tr;
        });
        body.replaceChildren(...rows);
        const last = Math.min(page.offset + page.limit, page.total);
        $("page-info").textContent = page.total
          ? `${page.offset + 1}-${last} of ${page.total}${page.total !== page.trials ? ` (filtered from ${page.trials})` : ""}`
          : `no trial${page.trials ? ` matches (of ${page.trials})` : " yet"}`;
        $("prev").disabled = page.offset === 0;
        $("next").disabled = last >= page.total;
        fingerprint = page.fingerprint;
        table.dataset.fingerprint = fingerprint;
        table.dataset.limit = String(page.limit);
      } catch (e) {
        if (e.body) $("table-error").textContent = `${e.body.error.field ? `${e.body.error.field}: ` : ""}${e.message}`;
      } finally {
        busy = false;
      }
      if (again) await refresh();
    }

    async function loadSummary() {
      summary = await api(base);
      const metrics = (summary.spec && summary.spec.metrics) || [];
      const best = metrics.length > 1
        ? `hypervolume ${show(summary.hypervolume)} (${metrics.map((m) => `${m.name} ${m.direction}`).join(", ")})`
        : `best ${show(summary.best_value)} (${summary.direction})`;
      const text = `${summary.state} · round ${summary.round} / ${summary.rounds} · ${summary.done} / ${summary.planned} done · ${summary.running} running · ${best}`;
      $("summary").textContent = text;
      rounds(summary.rounds);
      $("stop").hidden = !canWrite || summary.state === "stopped" || summary.state === "complete";
      $("resume").hidden = !canWrite || summary.state !== "stopped";
    }

    // the history plot first, from an indexed query: the other plots wait for the study's table
    async function loadHistory() {
      const data = await api(`${base}/history`);
      if (!plotsAt) Plots.history($("plot-history"), $("legend-history"), data, data.algorithms);
    }

    // one plot per frame, so that drawing them never holds the page for long
    const nextFrame = () => new Promise((r) => requestAnimationFrame(() => r()));

    async function loadPlots() {
      const metric = $("plot-metric").value;
      const data = await api(`${base}/plots` + (metric ? `?metric=${enc(metric)}` : ""));
      plotsPrint = data.fingerprint;
      plotsAt = Date.now();
      const first = data.pareto ? data.value_label : undefined;
      Plots.history($("plot-history"), $("legend-history"), data, data.algorithms, first);
      if (data.pareto) {
        const pick = $("plot-metric");
        if (!pick.options.length) {  // the metric the plots of one metric show: the first
          for (const m of data.metrics) pick.appendChild(new Option(m, m));
          $("metric-pick").hidden = false;
        }
        const which = first === data.metrics[0] ? "the first of the metrics" : "one of the metrics";
        $("history-caption").textContent = `${first} (${which}) by trial number, ` +
          "best so far as a line, each trial coloured by round";
        $("pareto-box").hidden = false;
        const more = data.pareto.metrics > 2 ? ` (the first two of ${data.pareto.metrics} metrics)` : "";
        $("pareto-caption").textContent = `Pareto front (${data.pareto.front} trials, in colour): ` +
          `${data.pareto.names[0]} against ${data.pareto.names[1]}${more}, every complete trial`;
        Plots.pareto($("plot-pareto"), data.pareto);
        $("hypervolume-box").hidden = false;
        Plots.hypervolume($("plot-hypervolume"), data.hypervolume);
      }
      await nextFrame();
      Plots.importance($("plot-importance"), data);
      $("importance-method").textContent = `How: ${data.importance.method}.`;
      await nextFrame();
      Plots.parallel($("plot-parallel"), data);
      await nextFrame();
      Plots.slices($("plot-slices"), data);
      await nextFrame();
      Plots.rounds($("plot-rounds"), data);
      Plots.curves($("plot-curves"), data.curves);
      const sampled = data.history.sampled || data.parallel.sampled;
      $("plots-note").textContent = `${data.complete} complete of ${data.trials} trials` +
        (sampled ? "; scatter plots show a stable sample (the best trials always in), computed on the server." : ".");
    }

    $("plot-metric").addEventListener("change", () => loadPlots());

    async function poll() {
      try {
        const c = await api(`${base}/changes?since=${enc(fingerprint)}`);
        live(true);
        if (c.changed) {
          await Promise.all([refresh(), loadSummary()]);
        }
        if (c.fingerprint !== plotsPrint && Date.now() - plotsAt > PLOTS_EVERY_MS) await loadPlots();
      } catch (e) {
        live(false);
      }
    }

    $("filters").addEventListener("submit", (ev) => {
      ev.preventDefault();
      view.states = [...document.querySelectorAll("#states input:checked")].map((b) => b.value);
      view.round = $("round").value;
      view.param = $("param").value;
      view.low = $("low").value.trim();
      view.high = $("high").value.trim();
      view.choice = $("choice-value").value;
      view.offset = 0;
      const parts = [];
      if (view.states.length) parts.push(`state: ${view.states.join(", ")}`);
      if (view.round) parts.push(`round ${view.round}`);
      if (view.param) parts.push(`${view.param} ${view.choice !== "" && $("range").hidden ? `= ${view.choice}` : `in [${view.low || "-inf"}, ${view.high || "inf"}]`}`);
      $("active-filters").textContent = parts.join(" · ");
      refresh();
    });
    $("param").addEventListener("change", () => {
      const col = columns.find((c) => c.key === `param:${$("param").value}`);
      const categorical = !!col && col.type === "categorical";
      $("range").hidden = categorical;
      $("choice").hidden = !categorical;
      const select = $("choice-value");
      clear(select);
      if (categorical) for (const ch of col.choices) select.appendChild(el("option", { value: ch, text: ch }));
    });
    $("clear").addEventListener("click", () => {
      $("filters").reset();
      $("range").hidden = false;
      $("choice").hidden = true;
      Object.assign(view, { states: [], round: "", param: "", low: "", high: "", choice: "", offset: 0 });
      $("active-filters").textContent = "";
      refresh();
    });
    $("prev").addEventListener("click", () => { view.offset = Math.max(0, view.offset - view.limit); refresh(); });
    $("next").addEventListener("click", () => { view.offset += view.limit; refresh(); });
    $("limit").addEventListener("change", () => { view.limit = Number($("limit").value); view.offset = 0; refresh(); });

    async function act(what) {
      $("action-error").textContent = "";
      try {
        await api(`${base}/${what}`, { method: "POST" });
        await loadSummary();
      } catch (e) {
        $("action-error").textContent = e.message;
      }
    }
    $("stop").addEventListener("click", () => act("stop"));
    $("resume").addEventListener("click", () => act("resume"));

    // The server wrote the first page of rows (and its columns and fingerprint) into the page:
    // take them over as they are. Then the history plot, then the rest (on a large study the
    // other plots wait for the table the server builds meanwhile).
    const written = table.querySelector("tbody tr") && table.dataset.columns;
    if (written) {
      columns = JSON.parse(table.dataset.columns);
      fingerprint = table.dataset.fingerprint || "";
      header();
      filtersFrom(columns);
    }
    (written ? Promise.resolve() : refresh())
      .then(() => {
        table.dataset.ready = "1"; // sorting, filtering and paging answer from here on
        return Promise.all([loadSummary(), loadHistory().then(loadPlots)]);
      })
      .catch(() => live(false));
    setInterval(poll, POLL_MS);
  }

  // ---------------------------------------------------------------- trial
  function trialPage(section) {
    const name = section.dataset.study, number = section.dataset.number;
    const base = `/studies/${enc(name)}`;
    $("back").href = base;

    function rows(tbody, pairs) {
      clear(tbody);
      for (const [k, v] of pairs) tbody.appendChild(el("tr", {}, el("th", { text: k }), el("td", { class: "param", text: show(v) })));
    }

    function lastLines(text, n) {
      if (!text) return "";
      return text.split("\n").slice(-n).join("\n");
    }

    async function load() {
      const [t, attempts] = await Promise.all([api(`${base}/trials/${number}`), api(`${base}/trials/${number}/attempts`)]);
      const facts = $("facts");
      clear(facts);
      const duration = t.started_at && t.finished_at ? (Date.parse(t.finished_at) - Date.parse(t.started_at)) / 1000 : null;
      for (const [k, v] of [["state", t.state], ["round", t.round], ["value", show(t.value)], ["attempts", t.attempts],
        ["worker", t.worker || ""], ["created", when(t.created_at)], ["started", when(t.started_at)],
        ["finished", when(t.finished_at)], ["duration", seconds(duration)]]) {
        facts.appendChild(el("dt", { text: k }));
        facts.appendChild(el("dd", { class: k === "state" ? `state ${v}` : "", text: String(v) }));
      }
      rows(document.querySelector("#params tbody"), Object.entries(t.params));
      rows(document.querySelector("#values tbody"), [["value", t.value], ...Object.entries(t.values)]);
      const body = document.querySelector("#attempts tbody");
      clear(body);
      for (const a of attempts) {
        body.appendChild(el("tr", {},
          el("td", { class: "num", text: String(a.number) }), el("td", { text: a.worker || "" }),
          el("td", { text: when(a.started_at) }), el("td", { text: when(a.finished_at) }),
          el("td", { class: `state ${a.outcome}`, text: a.outcome }),
          el("td", {}, a.error ? el("pre", { class: "error-text", text: lastLines(a.error, 20) }) : null)));
      }
      if (t.state === "running") {
        body.appendChild(el("tr", {}, el("td", { class: "num", text: String(t.attempt) }), el("td", { text: t.worker || "" }),
          el("td", { text: when(t.started_at) }), el("td", {}), el("td", { class: "state running", text: "running" }), el("td", {})));
      }
      const curve = t.intermediate.map(([s, v]) => [s, v]);
      $("no-curve").hidden = curve.length > 0;
      Plots.curves($("plot-curve"), [{ number: t.number, state: t.state, points: curve }], "no intermediate values");
      return t;
    }

    async function loadModel() {
      const m = await api(`${base}/trials/${number}/model`);
      if (m.saved) {
        $("model").textContent = `Saved model: ${m.saved.flavor}, inputs ${m.saved.inputs.join(", ")} · digest ${m.saved.digest.slice(0, 12)}`;
        $("promote").hidden = !canWrite;
      }
      const body = document.querySelector("#trial-versions tbody");
      clear(body);
      for (const v of m.versions) {
        body.appendChild(el("tr", {},
          el("td", {}, el("a", { href: `/models/${enc(v.model)}`, text: `${v.model} v${v.version}` })),
          el("td", { text: v.aliases.join(", ") }), el("td", { text: when(v.created_at) })));
      }
      $("trial-versions").hidden = m.versions.length === 0;
    }

    $("promote").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      fieldError("promote", "");
      const body = { model: $("promote-model").value.trim(), trial: Number(number) };
      const alias = $("promote-alias").value.trim();
      if (alias) Object.assign(body, { alias, when: "always" });
      try {
        const got = await api(`${base}/promote`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
        $("promote-error").textContent = "";
        $("promote-done").textContent = `Registered ${got.version.model} v${got.version.version}. ${got.reason}`;
        await loadModel();
      } catch (e) {
        fieldError("promote", e);
      }
    });
    loadModel().catch((e) => { $("model").textContent = e.message; });
    load().then((t) => {
      if (!["complete", "failed", "pruned"].includes(t.state)) setInterval(() => load().catch(() => {}), 2000);
    }).catch((e) => { $("facts").textContent = e.message; });
  }

  // An error shown next to the form's field it names (a dotted path: "model", "body.alias"...).
  function fieldError(form, e) {
    document.querySelectorAll(`#${form} [data-field]`).forEach((i) => i.classList.remove("bad"));
    const out = $(`${form}-error`);
    if (!e) { out.textContent = ""; return; }
    const err = (e.body && e.body.error) || { message: e.message };
    const field = err.field ? String(err.field).split(".").pop() : "";
    const input = field && document.querySelector(`#${form} [data-field="${field}"]`);
    if (input) { input.classList.add("bad"); input.after(out); }
    out.textContent = `${err.field ? `${err.field}: ` : ""}${err.message}`;
  }

  // ---------------------------------------------------------------- models (/models)
  function modelsPage() {
    const body = document.querySelector("#models tbody");
    async function load() {
      try {
        const models = await api("/model-overview");
        clear(body);
        for (const m of models) {
          const aliases = Object.entries(m.aliases).map(([a, v]) => `${a} → v${v}`).join(", ");
          body.appendChild(el("tr", { "data-name": m.name },
            el("td", {}, el("a", { href: `/models/${enc(m.name)}`, text: m.name })),
            el("td", { class: "num", text: `${m.versions} (latest v${m.latest})` }),
            el("td", { text: aliases }),
            el("td", { class: "num", text: m.value === null ? "" : `${m.metric} ${show(m.value)}` }),
            el("td", { text: when(m.updated_at) })));
        }
        $("no-models").hidden = models.length > 0;
        live(true);
      } catch (e) {
        live(false);
      }
    }
    load();
    setInterval(load, 3000);
  }

  // ---------------------------------------------------------------- model (/models/{name})
  function modelPage(section) {
    const name = section.dataset.model, prefix = `${section.dataset.project}/`;
    const base = `/models/${enc(name)}`;
    $("move-alias").hidden = !canWrite;

    function metrics(v) {
      return Object.entries(v.metrics).map(([k, x]) => `${k} ${show(x)}`).join(", ");
    }

    async function load() {
      const [versions, history] = await Promise.all([api(base), api(`${base}/history`)]);
      const aliases = document.querySelector("#aliases tbody");
      clear(aliases);
      const select = $("alias-version");
      const chosen = select.value;
      clear(select);
      const body = document.querySelector("#versions tbody");
      clear(body);
      for (const v of versions) {
        for (const a of v.aliases) aliases.appendChild(el("tr", {}, el("td", { text: a }), el("td", { class: "num", text: `v${v.version}` })));
        select.appendChild(el("option", { value: String(v.version), text: `v${v.version}` }));
        const study = v.study && v.study.startsWith(prefix) ? v.study.slice(prefix.length) : v.study;
        const lineage = study === null ? el("td", { text: "registered directly" })
          : el("td", {}, el("a", { href: `/studies/${enc(study)}`, text: study }), " · ",
            v.trial === null ? "" : el("a", { class: "trial-link", href: `/studies/${enc(study)}/trials/${v.trial}`, text: `trial ${v.trial}` }));
        body.appendChild(el("tr", { "data-version": String(v.version) },
          el("td", { class: "num", text: `v${v.version}` }), el("td", { text: v.aliases.join(", ") }),
          el("td", { class: "num", text: v.metric ? `${v.metric} ${show(v.value)} (${v.direction})` : "" }),
          el("td", { text: metrics(v) }), el("td", { text: v.flavor }), el("td", { text: when(v.created_at) }),
          el("td", { text: v.created_by }), lineage));
      }
      if (chosen) select.value = chosen;
      const moves = document.querySelector("#history tbody");
      clear(moves);
      for (const h of history.slice().reverse()) {
        moves.appendChild(el("tr", {}, el("td", { text: when(h.at) }), el("td", { text: h.alias }),
          el("td", { class: "num", text: h.from_version === null ? "(new)" : `v${h.from_version}` }),
          el("td", { class: "num", text: `v${h.to_version}` }), el("td", { text: h.actor }), el("td", { text: h.reason })));
      }
      $("no-history").hidden = history.length > 0;
    }

    $("move-alias").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      fieldError("move-alias", "");
      const alias = $("alias-name").value.trim();
      const body = { version: Number($("alias-version").value), reason: $("alias-reason").value };
      try {
        await api(`${base}/aliases/${enc(alias)}`, { method: "PUT", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
        $("alias-reason").value = "";
        await load();
      } catch (e) {
        fieldError("move-alias", e);
      }
    });
    load().catch((e) => { $("versions").before(el("p", { class: "error", text: e.message })); });
  }

  // ---------------------------------------------------------------- new study
  function newPage() {
    document.querySelectorAll(".write").forEach((b) => { b.disabled = !canWrite; });
    document.querySelector(".readonly").hidden = canWrite;
    $("file").addEventListener("change", async () => {
      const f = $("file").files[0];
      if (f) $("yaml").value = await f.text();
    });
    $("new-study").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      $("yaml-error").textContent = "";
      $("yaml-annotated").hidden = true;
      const text = $("yaml").value;
      try {
        const study = await api("/studies/yaml", { method: "POST", headers: { "Content-Type": "application/yaml" }, body: text });
        window.location.assign(`/studies/${enc(study.name)}`);
      } catch (e) {
        const err = (e.body && e.body.error) || { message: e.message };
        $("yaml-error").textContent = `${err.field ? `${err.field}: ` : ""}${err.message}`;
        if (err.line) annotate(text, err);
      }
    });

    function annotate(text, err) {
      const pre = $("yaml-annotated");
      clear(pre);
      text.split("\n").forEach((line, i) => {
        const row = el("span", { class: i + 1 === err.line ? "line bad" : "line" },
          el("span", { class: "ln", text: String(i + 1).padStart(3, " ") }), ` ${line}\n`);
        pre.appendChild(row);
        if (i + 1 === err.line) pre.appendChild(el("span", { class: "field-error", text: `    ^ ${err.field}: ${err.message}\n` }));
      });
      pre.hidden = false;
    }
  }

  const section = document.querySelector("[data-page]");
  const page = section && section.dataset.page;
  if (page === "studies") studiesPage();
  else if (page === "study") studyPage(section);
  else if (page === "trial") trialPage(section);
  else if (page === "new") newPage();
  else if (page === "models") modelsPage();
  else if (page === "model") modelPage(section);
})();
