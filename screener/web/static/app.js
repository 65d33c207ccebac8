// screener workbench: keyboard triage, progress polling, the rule playground. Plain JS, no build step.
"use strict";

const csrf = () => document.querySelector('meta[name="csrf-token"]').content;
const typing = (e) => /^(INPUT|TEXTAREA|SELECT)$/.test(e.target.tagName) || e.target.isContentEditable;

async function postJSON(url, body) {
  const r = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": csrf() },
    body: JSON.stringify(body),
    credentials: "same-origin",
  });
  const data = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error((data.error && data.error.message) || r.statusText);
  return data;
}

// The reviewer's name, remembered in this browser.
function reviewerName() {
  const fields = document.querySelectorAll("input.reviewer");
  const saved = localStorage.getItem("screener.reviewer") || "";
  fields.forEach((f) => {
    if (!f.value) f.value = saved;
    f.addEventListener("change", () => localStorage.setItem("screener.reviewer", f.value.trim()));
  });
  return () => (fields[0] && fields[0].value.trim()) || saved;
}

// Scans page: poll the running scans, reload when one finishes.
function pollScans() {
  const running = [...document.querySelectorAll('#scans tr[data-status="queued"], #scans tr[data-status="running"]')];
  if (!running.length) return;
  const tick = async () => {
    let finished = false;
    for (const tr of running) {
      const id = tr.dataset.scan;
      const p = await fetch(`/scans/${id}/progress`, { credentials: "same-origin" }).then((r) => r.json());
      const bar = tr.querySelector("progress");
      if (bar && p.percent !== undefined) bar.value = p.percent;
      const rows = tr.querySelector(".rows");
      if (rows && p.rows !== undefined) rows.textContent = p.rows.toLocaleString();
      if (!["queued", "running"].includes(p.status)) finished = true;
    }
    if (finished) location.reload();
    else setTimeout(tick, 700);
  };
  setTimeout(tick, 500);
}

// Leads list: j/k to move, Enter to open, 1/2/3 to decide the selected lead.
function leadsKeyboard(getReviewer) {
  const table = document.getElementById("leads");
  if (!table) return;
  const rows = [...table.querySelectorAll("tr.lead")];
  rows.forEach((tr) => tr.addEventListener("click", (e) => { if (e.target.tagName !== "A") select(rows.indexOf(tr)); }));
  let cur = rows.length ? 0 : -1;
  const select = (i) => {
    if (!rows.length) return;
    cur = Math.max(0, Math.min(rows.length - 1, i));
    rows.forEach((r, j) => r.classList.toggle("selected", j === cur));
    rows[cur].scrollIntoView({ block: "nearest" });
  };
  select(0);
  const states = { "1": "confirmed", "2": "dismissed", "3": "pending" };
  const labels = { confirmed: "确认违规", dismissed: "误报", pending: "待核查" };
  document.addEventListener("keydown", async (e) => {
    if (typing(e) || e.ctrlKey || e.metaKey || e.altKey || cur < 0) return;
    if (e.key === "j") select(cur + 1);
    else if (e.key === "k") select(cur - 1);
    else if (e.key === "Enter") location.href = rows[cur].dataset.href;
    else if (states[e.key]) {
      const tr = rows[cur];
      const state = states[e.key];
      try {
        const res = await postJSON(`/scans/${table.dataset.scan}/leads/${tr.dataset.row}/decision`, {
          state, reviewer: getReviewer(), seen_version: tr.dataset.version,
        });
        tr.dataset.version = res.version;
        const cell = tr.querySelector("td.review");
        cell.innerHTML = "";
        const tag = document.createElement("span");
        tag.className = `tag review-${res.review}`;
        tag.textContent = labels[res.review] || res.review;
        cell.appendChild(tag);
        if (res.replaced_unseen && res.replaced_unseen.length) {
          const warn = document.createElement("span");
          warn.className = "small warn";
          warn.textContent = ` 已覆盖 ${res.replaced_unseen[0].reviewer || "他人"} 的结论（记录保留）`;
          cell.appendChild(warn);
        }
        select(cur + 1);
      } catch (err) {
        alert(err.message);
      }
    }
  });
}

// Lead page: 1/2/3 press the buttons, j/k go to the next/previous lead.
function leadKeyboard() {
  const form = document.getElementById("review-form");
  if (!form) return;
  document.addEventListener("keydown", (e) => {
    if (typing(e) || e.ctrlKey || e.metaKey || e.altKey) return;
    const button = form.querySelector(`button[data-key="${e.key}"]`);
    if (button) { e.preventDefault(); form.requestSubmit(button); return; }
    const link = e.key === "j" ? document.getElementById("next") : e.key === "k" ? document.getElementById("prev") : null;
    if (link) location.href = link.href;
  });
}

// Playground: check the rule on every change; compare with the saved rule on a corpus on request.
function playground() {
  const editor = document.getElementById("rule-yaml");
  if (!editor) return;
  const ruleId = editor.dataset.rule;
  const errorsBox = document.getElementById("errors");
  const examplesBox = document.getElementById("examples");
  const gutter = document.getElementById("gutter");
  const status = document.getElementById("check-status");
  let timer = null;
  let seq = 0;
  const lineNumbers = () => {
    const n = editor.value.split("\n").length;
    gutter.textContent = Array.from({ length: n }, (_, i) => i + 1).join("\n");
    gutter.scrollTop = editor.scrollTop;
  };
  editor.addEventListener("scroll", () => { gutter.scrollTop = editor.scrollTop; });
  const show = (res) => {
    errorsBox.replaceChildren();
    for (const err of res.errors) {
      const li = document.createElement("li");
      li.className = "error";
      li.dataset.line = err.line ?? "";
      li.textContent = (err.line ? `第 ${err.line} 行：` : "") + err.message;
      errorsBox.appendChild(li);
    }
    examplesBox.replaceChildren();
    for (const ex of res.examples) {
      const li = document.createElement("li");
      li.className = ex.passed ? "pass" : "fail";
      li.textContent = `${ex.passed ? "✓" : "✗"} ${ex.expect_hit ? "应命中" : "不应命中"}：${ex.text}${ex.detail ? " — " + ex.detail : ""}`;
      examplesBox.appendChild(li);
    }
    status.textContent = res.ok ? `规则有效，${res.examples.length} 个示例` : `${res.errors.length} 个错误`;
    status.className = res.ok ? "ok" : "bad";
    editor.classList.toggle("invalid", !res.ok);
  };
  const check = async () => {
    const mine = ++seq;
    status.textContent = "检查中…";
    try {
      const res = await postJSON("/rules/playground/check", { rule_id: ruleId, yaml: editor.value });
      if (mine === seq) show(res);
    } catch (err) {
      status.textContent = err.message;
    }
  };
  editor.addEventListener("input", () => {
    lineNumbers();
    clearTimeout(timer);
    timer = setTimeout(check, 300);
  });
  lineNumbers();
  check();

  const runButton = document.getElementById("run-corpus");
  const diffBox = document.getElementById("diff");
  runButton.addEventListener("click", async () => {
    const corpus = document.getElementById("corpus").value;
    diffBox.textContent = "运行中…";
    try {
      const res = await postJSON("/rules/playground/compare", { rule_id: ruleId, yaml: editor.value, corpus });
      diffBox.innerHTML = res.html;  // rendered and escaped by the server
    } catch (err) {
      diffBox.textContent = err.message;
    }
  });
}

document.addEventListener("DOMContentLoaded", () => {
  const getReviewer = reviewerName();
  pollScans();
  leadsKeyboard(getReviewer);
  leadKeyboard();
  playground();
});
