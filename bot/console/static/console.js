// Memnun console: progressive enhancement only (every action also works as a plain form post).
(function () {
  "use strict";

  // Keep the "save this filter" form in step with the filters applied through htmx.
  document.addEventListener("htmx:afterSwap", function () {
    var saved = document.getElementById("saved-query");
    if (saved) { saved.value = window.location.search.replace(/^\?/, "").replace(/(^|&)cursor=[^&]*/g, ""); }
  });

  // Transcripts open at the newest message, like a chat; a poll keeps the view there unless the agent
  // scrolled up to read (then it does not jump).
  var stickToBottom = true;
  function scrollTranscript(force) {
    var box = document.getElementById("transcript");
    if (box && (force || stickToBottom)) { box.scrollTop = box.scrollHeight; }
  }
  document.addEventListener("DOMContentLoaded", function () {
    var box = document.getElementById("transcript");
    if (!box) { return; }
    if (!window.location.hash) { scrollTranscript(true); }
    box.addEventListener("scroll", function () {
      stickToBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 80;
    });
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail && event.detail.target && event.detail.target.id === "transcript") { scrollTranscript(false); }
  });

  // htmx needs the session's CSRF token on every unsafe request; it is in <body hx-headers>.
  // An expired session answers 401 with HX-Redirect, which htmx follows by itself.

  var PALETTE = ["#1f6feb", "#23824a", "#b54708", "#8250df", "#c4302b", "#0b6bcb", "#a67c00", "#5c6b7a"];

  function drawCharts() {
    var holder = document.getElementById("chart-data");
    if (!holder || typeof window.Chart === "undefined") { return; }
    var data = JSON.parse(holder.textContent);
    document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      var spec = data[canvas.dataset.chart];
      if (!spec || canvas.dataset.rendered) { return; }
      var series = spec.series.filter(function (s) { return s.name !== "answers"; });
      var doughnut = spec.kind === "doughnut";
      var datasets = series.map(function (s, i) {
        return {
          label: s.name,
          data: s.values,
          backgroundColor: doughnut ? PALETTE.slice(0, s.values.length) : PALETTE[i % PALETTE.length],
          borderColor: doughnut ? "#fff" : PALETTE[i % PALETTE.length],
          spanGaps: true,
          tension: 0.25,
          pointRadius: 2,
        };
      });
      var stacked = spec.name.indexOf("conversations_by") === 0;
      canvas.__chart = new window.Chart(canvas, {
        type: spec.kind,
        data: { labels: spec.labels, datasets: datasets },
        options: {
          responsive: true,
          maintainAspectRatio: false,
          animation: false,
          indexAxis: spec.name === "top_intents" ? "y" : "x",
          plugins: { legend: { display: doughnut || datasets.length > 1, position: "bottom" } },
          scales: doughnut ? {} : { x: { stacked: stacked }, y: { stacked: stacked, beginAtZero: true } },
        },
      });
      canvas.dataset.rendered = "1";
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawCharts);
  } else {
    drawCharts();
  }
  window.addEventListener("load", drawCharts, { once: true });
})();
