/**
 * The dashboard's stylesheet, served as `/assets/dashboard.css`. Laid out
 * for a 1366×768 laptop screen and up; state colours are the contract
 * documented in docs/dashboard.md.
 */
export const DASHBOARD_CSS = `
:root {
  --bg: #f6f8fa; --panel: #ffffff; --text: #1f2328; --muted: #59636e; --line: #d1d9e0;
  --healthy: #1a7f37; --unhealthy: #cf222e; --ejected: #c2570c; --draining: #0969da;
  --disabled: #6e7781; --unknown: #d0d7de; --accent: #8250df;
}
* { box-sizing: border-box; }
html, body { margin: 0; padding: 0; }
body { background: var(--bg); color: var(--text); font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif; }
h1 { font-size: 18px; margin: 0; }
h2 { font-size: 15px; margin: 0 0 8px; display: flex; align-items: baseline; gap: 8px; flex-wrap: wrap; }
h3 { font-size: 15px; margin: 0 0 8px; }
button { font: inherit; font-size: 12px; padding: 2px 8px; border: 1px solid var(--line); border-radius: 5px; background: #f6f8fa; color: var(--text); cursor: pointer; }
button:hover { background: #eaeef2; }
button:focus-visible { outline: 2px solid var(--draining); outline-offset: 1px; }
button.primary { background: var(--healthy); border-color: var(--healthy); color: #fff; }
.muted { color: var(--muted); }
.small { font-size: 12px; }
.mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; }
.topbar { position: sticky; top: 0; z-index: 2; display: flex; align-items: center; gap: 12px; padding: 8px 16px; background: #24292f; color: #f6f8fa; }
.topbar .muted { color: #afb8c1; }
.topbar button { background: #32383f; color: #f6f8fa; border-color: #57606a; }
.topbar button:hover { background: #424a53; }
.spacer { flex: 1; }
.conn { font-size: 12px; padding: 2px 8px; border-radius: 10px; }
.conn-live { background: var(--healthy); color: #fff; }
.conn-wait { background: #9a6700; color: #fff; }
.conn-down { background: var(--unhealthy); color: #fff; }
main { padding: 12px 16px 24px; }
.cards { display: grid; grid-template-columns: repeat(6, minmax(0, 1fr)); gap: 10px; margin-bottom: 12px; }
.card { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 8px 12px; }
.card-label { font-size: 12px; color: var(--muted); }
.card-value { font-size: 22px; font-weight: 600; font-variant-numeric: tabular-nums; }
.columns { display: grid; grid-template-columns: minmax(0, 1fr) 340px; gap: 12px; align-items: start; }
.panel { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; margin-bottom: 12px; }
.charts { display: grid; grid-template-columns: 1fr 1fr; gap: 12px; margin-bottom: 12px; }
.chart { margin: 0; background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 8px 10px; }
.chart figcaption { font-weight: 600; font-size: 13px; display: flex; flex-wrap: wrap; gap: 4px 10px; align-items: center; }
.chart canvas { display: block; width: 100%; height: 150px; }
.legend { display: inline-flex; flex-wrap: wrap; gap: 4px 10px; font-weight: 400; font-size: 12px; color: var(--muted); }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 4px; vertical-align: middle; }
table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: 4px 6px; border-bottom: 1px solid #eaeef2; vertical-align: middle; }
th { font-size: 12px; font-weight: 600; color: var(--muted); white-space: nowrap; }
td.num, th.num { text-align: right; white-space: nowrap; }
td.name { max-width: 240px; overflow-wrap: anywhere; }
td.name strong { display: block; font-weight: 600; }
td.actions { white-space: nowrap; text-align: right; }
td.actions button + button { margin-left: 4px; }
tr.empty td { color: var(--muted); font-style: italic; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600; color: #fff; background: var(--unknown); white-space: nowrap; }
.state-healthy, .health-up, .site-active, .ev-up { background: var(--healthy); }
.state-unhealthy, .health-empty, .site-down, .ev-down { background: var(--unhealthy); }
.state-ejected, .health-degraded, .site-recovering, .ev-ejected { background: var(--ejected); }
.state-draining, .health-backup, .ev-draining { background: var(--draining); }
.state-disabled, .ev-disabled { background: var(--disabled); }
.state-unknown, .site-unknown, .ev-other { background: var(--unknown); color: var(--text); }
.ev-config { background: var(--accent); }
.timeline { list-style: none; margin: 0; padding: 0; max-height: calc(100vh - 150px); overflow-y: auto; }
.timeline li { padding: 6px 0; border-bottom: 1px solid #eaeef2; overflow-wrap: anywhere; }
.timeline .when { font-size: 12px; color: var(--muted); font-variant-numeric: tabular-nums; margin-right: 6px; }
.timeline .subject { font-weight: 600; margin-left: 6px; }
.timeline .reason { display: block; font-size: 12px; color: var(--muted); }
.col-side { position: sticky; top: 56px; }
#toast { position: fixed; right: 16px; bottom: 16px; z-index: 3; max-width: 460px; white-space: pre-wrap; padding: 10px 14px; border-radius: 8px; background: #24292f; color: #fff; box-shadow: 0 4px 16px rgba(0,0,0,.25); }
#toast.error { background: var(--unhealthy); }
dialog { border: 1px solid var(--line); border-radius: 10px; padding: 16px; width: 380px; }
dialog::backdrop { background: rgba(31, 35, 40, .45); }
dialog label { display: block; margin: 8px 0 12px; }
dialog input { display: block; width: 100%; margin-top: 4px; font: inherit; padding: 4px 8px; border: 1px solid var(--line); border-radius: 5px; }
dialog .buttons { display: flex; justify-content: flex-end; gap: 8px; }
dialog p { margin: 0; overflow-wrap: anywhere; }
.grid-2 { display: grid; grid-template-columns: 1fr 1fr; gap: 12px; }
`;
