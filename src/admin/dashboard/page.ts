/**
 * The dashboard's HTML shell, served on `GET /`. It holds no data: the
 * script (client.ts) fills it from the admin API, so nothing from the
 * running config is ever interpolated into markup.
 */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Ballast dashboard</title>
<link rel="icon" href="/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/assets/dashboard.css">
<script src="/assets/dashboard.js" defer></script>
</head>
<body>
<header class="topbar">
  <h1>Ballast</h1>
  <span id="version" class="muted"></span>
  <span id="uptime" class="muted"></span>
  <span class="spacer"></span>
  <span id="connection" class="conn conn-wait">connecting</span>
  <button id="reload-config" type="button" title="Re-read the configuration file">Reload config</button>
  <button id="token-button" type="button">Set token</button>
</header>
<main>
  <section class="cards" aria-label="Summary">
    <div class="card"><div class="card-label">Requests/s</div><div class="card-value" id="total-rps">–</div></div>
    <div class="card"><div class="card-label">In flight</div><div class="card-value" id="total-inflight">–</div></div>
    <div class="card"><div class="card-label">Servers serving</div><div class="card-value" id="servers-serving">–</div></div>
    <div class="card"><div class="card-label">Pools up</div><div class="card-value" id="pools-up">–</div></div>
    <div class="card"><div class="card-label">Listeners</div><div class="card-value" id="listener-count">–</div></div>
    <div class="card"><div class="card-label">Sites up</div><div class="card-value" id="sites-up">–</div></div>
  </section>
  <div class="columns">
    <div class="col-main">
      <section class="charts">
        <figure class="chart">
          <figcaption>Requests per second <span class="legend" id="rps-legend"></span></figcaption>
          <canvas id="rps-chart" role="img" aria-label="Requests per second per pool, last two minutes"></canvas>
        </figure>
        <figure class="chart">
          <figcaption><span id="latency-title">Latency (ms)</span> <span class="legend" id="latency-legend"></span></figcaption>
          <canvas id="latency-chart" role="img" aria-label="Latency per pool, last two minutes"></canvas>
        </figure>
      </section>
      <div id="pools"></div>
      <section class="panel">
        <h2>Listeners</h2>
        <table id="listeners">
          <thead><tr><th>Name</th><th>Protocol</th><th>Address</th><th class="num">In flight</th></tr></thead>
          <tbody></tbody>
        </table>
      </section>
      <section class="panel" id="gslb" hidden>
        <h2>GSLB <span class="muted small" id="gslb-summary"></span></h2>
        <div class="grid-2">
          <table id="sites">
            <thead><tr><th>Site</th><th>State</th><th>Verdict</th><th>Last heartbeat</th><th class="num">Phi</th></tr></thead>
            <tbody></tbody>
          </table>
          <table id="records">
            <thead><tr><th>DNS name</th><th>Type</th><th>Policy</th><th>Answer now</th></tr></thead>
            <tbody></tbody>
          </table>
        </div>
      </section>
      <section class="panel">
        <h2>Availability <span class="muted small">uptime over 1 h · 24 h · 30 d</span></h2>
        <table id="availability">
          <thead><tr><th>Kind</th><th>Name</th><th>Now</th><th class="num">1 h</th><th class="num">24 h</th><th class="num">30 d</th><th class="num">Incidents</th><th class="num">MTTR</th></tr></thead>
          <tbody></tbody>
        </table>
      </section>
    </div>
    <aside class="col-side panel">
      <h2>Events <span class="muted small" id="event-count"></span></h2>
      <ol id="events" class="timeline" aria-live="polite"></ol>
    </aside>
  </div>
</main>
<div id="toast" role="status" aria-live="polite" hidden></div>
<dialog id="ask">
  <form id="ask-form">
    <h3 id="ask-title"></h3>
    <p id="ask-text" class="muted"></p>
    <label><span id="ask-label"></span><input id="ask-input" autocomplete="off" required></label>
    <div class="buttons">
      <button type="button" id="ask-cancel">Cancel</button>
      <button type="submit" id="ask-ok" class="primary">OK</button>
    </div>
  </form>
</dialog>
</body>
</html>
`;
