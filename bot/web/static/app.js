/* hocvuso web console: charts from the page's JSON, upload progress, confirmations.
   No inline scripts (the Content-Security-Policy allows only this origin's files). */
(function () {
  "use strict";
  const WARN = "#c25e00", OK = "#2e7d32", TARGET = "#c62828", BRAND = "#0b5cab";
  const pct = (v) => (v === null || v === undefined ? "" : String(v).replace(".", ",") + "%");

  /* A vertical (or horizontal) target line drawn by a Chart.js plugin. */
  const targetLine = {
    id: "targetLine",
    afterDatasetsDraw(chart, _args, opts) {
      if (opts.value === null || opts.value === undefined) return;
      const { ctx, chartArea, scales } = chart;
      const x = scales.x.getPixelForValue(opts.value);
      ctx.save();
      ctx.strokeStyle = TARGET; ctx.setLineDash([6, 4]); ctx.lineWidth = 2;
      ctx.beginPath(); ctx.moveTo(x, chartArea.top); ctx.lineTo(x, chartArea.bottom); ctx.stroke();
      ctx.fillStyle = TARGET; ctx.font = "12px sans-serif";
      ctx.fillText("Chỉ tiêu " + pct(opts.value), Math.min(x + 4, chartArea.right - 90), chartArea.top + 12);
      ctx.restore();
    },
  };

  function unitChart(data) {
    const canvas = document.getElementById("bieu-do-don-vi");
    if (!canvas || !window.Chart || !data.units.labels.length) return;
    const box = canvas.parentElement;
    const bars = Number(box.dataset.bars || data.units.labels.length);
    box.style.height = Math.max(180, 28 * bars + 60) + "px";
    new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: data.units.labels,
        datasets: [{
          label: "Tỷ lệ đã hoàn thành",
          data: data.units.values,
          backgroundColor: data.units.below.map((b) => (b ? WARN : OK)),
        }],
      },
      options: {
        indexAxis: "y", responsive: true, maintainAspectRatio: false, animation: false,
        scales: { x: { min: 0, max: 100, ticks: { callback: (v) => v + "%" } },
                  y: { ticks: { autoSkip: false, font: { size: 11 } } } },
        plugins: {
          legend: { display: false },
          tooltip: { callbacks: { label: (c) => pct(c.raw) } },
          targetLine: { value: data.units.target },
          title: { display: true, text: "Toàn phạm vi: " + pct(data.units.total) +
                   " — cam: dưới chỉ tiêu, xanh: đạt" },
        },
      },
      plugins: [targetLine],
    });
  }

  function trendChart(data) {
    const canvas = document.getElementById("bieu-do-xu-huong");
    if (!canvas || !window.Chart || !data.trend.labels.length) return;
    new window.Chart(canvas, {
      type: "line",
      data: {
        labels: data.trend.labels,
        datasets: [
          { label: "Đã hoàn thành", data: data.trend.values, borderColor: BRAND,
            backgroundColor: BRAND, pointRadius: 2, spanGaps: false },
          { label: "Chỉ tiêu", data: data.trend.target, borderColor: TARGET, borderDash: [6, 4],
            pointRadius: 0 },
        ],
      },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        scales: { y: { min: 0, max: 100, ticks: { callback: (v) => v + "%" } },
                  x: { ticks: { maxTicksLimit: 8 } } },
        plugins: { tooltip: { callbacks: { label: (c) => c.dataset.label + ": " + pct(c.raw) } } },
      },
    });
  }

  function charts() {
    const node = document.getElementById("du-lieu-bieu-do");
    if (!node) return;
    const data = JSON.parse(node.textContent);
    unitChart(data);
    trendChart(data);
  }

  /* Poll the upload jobs while some are queued or running; reload when all are done. */
  function progress() {
    const box = document.getElementById("tien-do");
    if (!box || Number(box.dataset.active) === 0) return;
    const tick = () => {
      fetch("/tai-lieu/tien-do.json", { credentials: "same-origin" })
        .then((r) => r.json())
        .then((state) => {
          for (const job of state.jobs) {
            const li = box.querySelector('[data-job="' + job.id + '"]');
            if (!li) continue;
            li.className = "job " + job.status;
            li.querySelector(".status").textContent = job.status_vi;
          }
          if (state.active === 0) window.location.reload();
          else window.setTimeout(tick, 1500);
        })
        .catch(() => window.setTimeout(tick, 4000));
    };
    window.setTimeout(tick, 1000);
  }

  function confirmations() {
    for (const form of document.querySelectorAll("form.confirm")) {
      form.addEventListener("submit", (event) => {
        if (!window.confirm(form.dataset.confirm || "Bạn chắc chắn?")) event.preventDefault();
      });
    }
  }

  function scrollToCited() {
    const cited = document.querySelector(".passage.cited");
    if (cited) cited.scrollIntoView({ block: "start" });
  }

  /* On a phone the menu folds behind a button; without JavaScript it stays open. */
  function menu() {
    const toggle = document.querySelector(".menu-toggle");
    const nav = document.getElementById("danh-muc");
    if (!toggle || !nav) return;
    document.documentElement.classList.add("js");
    nav.classList.add("closed");
    toggle.addEventListener("click", () => {
      const open = nav.classList.toggle("closed") === false;
      toggle.setAttribute("aria-expanded", String(open));
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    menu();
    charts();
    progress();
    confirmations();
    scrollToCited();
  });
})();
