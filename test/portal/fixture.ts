import type { HomepageConfig } from "../../components/render/homepage";

/**
 * The `<link>` tags of Homepage's page head that name an icon or the
 * manifest, as src/pages/index.jsx and src/pages/_document.jsx write them
 * when settings.yaml sets no `favicon` (ours does not), `?v=4` included.
 * https://github.com/gethomepage/homepage/blob/main/src/pages/index.jsx
 */
export const HOMEPAGE_HEAD_LINKS = `<link rel="manifest" href="/site.webmanifest?v=4" crossorigin="use-credentials">
<link rel="apple-touch-icon" sizes="180x180" href="/apple-touch-icon.png?v=4">
<link rel="shortcut icon" href="/homepage.ico">
<link rel="icon" type="image/png" sizes="32x32" href="/favicon-32x32.png?v=4">
<link rel="icon" type="image/png" sizes="16x16" href="/favicon-16x16.png?v=4">
<link rel="mask-icon" href="/safari-pinned-tab.svg?v=4" color="#1e9cd7">`;

/** A `<link>` tag's attributes, by name. */
export function linkTags(html: string): Record<string, string>[] {
  return [...html.matchAll(/<link\b([^>]*)>/g)].map((m) =>
    Object.fromEntries([...m[1].matchAll(/([a-z-]+)="([^"]*)"/g)].map((a) => [a[1], a[2]])),
  );
}

/** The paths the page links as an icon (any rel with the word "icon"), query strings kept. */
export function iconLinks(html: string): { rel: string; href: string; sizes?: string }[] {
  return linkTags(html)
    .filter((l) => /(^|\s|-)icon(\s|$)/.test(l.rel ?? ""))
    .map((l) => ({ rel: l.rel, href: l.href, ...(l.sizes ? { sizes: l.sizes } : {}) }));
}

/**
 * A stand-in for Homepage's rendered dashboard, built from the generated
 * config, with the markup and the behaviour the portal's files rely on:
 *   - the head's icon links (HOMEPAGE_HEAD_LINKS) and custom.js;
 *   - #information-widgets-right > .information-widget-datetime (the clock),
 *     mounted late and ticking every second;
 *   - li.service > .service-card > a.service-icon, a.service-title-text,
 *     re-rendered by window.__rerender, the clock remounted by window.__remountClock;
 *   - settings.layout: a `style: row` group is a full-width grid of `columns`
 *     cards, with the breakpoints of Homepage's columnMap (one card below
 *     768 px, two below 1024 px) and Tailwind's container widths; other
 *     groups sit side by side (half, third, quarter of the page);
 *   - the search launcher: a letter typed on the page opens it, it matches
 *     service names from the config (not from the page), and Enter calls
 *     window.open(href, settings.target ?? "_blank", "noreferrer"), as
 *     src/components/quicklaunch.jsx does;
 *   - the background image from settings, which the browser tests block.
 */
export function dashboardFixture(config: HomepageConfig): string {
  const groups = config.services.map((g) => {
    const [name, cards] = Object.entries(g)[0];
    return { name, cards: cards.map((c) => ({ title: Object.keys(c)[0], ...Object.values(c)[0] })) };
  });
  const layout: Record<string, { style?: string; columns?: number }> = {};
  for (const entry of (config.settings.layout ?? []) as Record<string, { style?: string; columns?: number }>[]) {
    const [name, value] = Object.entries(entry)[0];
    layout[name] = value;
  }
  const background = (config.settings.background as { image?: string } | undefined)?.image ?? "";
  const target = (config.settings.target as string | undefined) ?? "_blank";
  return `<!doctype html>
<html lang="en" class="dark">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${config.settings.title ?? "Homepage"}</title>
${HOMEPAGE_HEAD_LINKS}
<style>
  *, ::before, ::after { box-sizing: border-box; }
  body { margin: 0; min-height: 100vh; font: 14px/1.4 system-ui, sans-serif; color: #e2e8f0;
         background: #1e293b url("${background}") center / cover fixed; }
  .container { width: 100%; margin: 0 auto; }
  @media (min-width: 640px) { .container { max-width: 640px; } }
  @media (min-width: 768px) { .container { max-width: 768px; } }
  @media (min-width: 1024px) { .container { max-width: 1024px; } }
  @media (min-width: 1280px) { .container { max-width: 1280px; } }
  @media (min-width: 1536px) { .container { max-width: 1536px; } }
  @media (min-width: 1792px) { .container { max-width: 1792px; } }
  #information-widgets { display: flex; justify-content: space-between; align-items: center; flex-wrap: wrap; gap: .5rem;
                         margin: 1rem 1rem 0; padding: .5rem 1rem; border-bottom: 1px solid rgba(255,255,255,.1); }
  #information-widgets-left, #information-widgets-right { display: flex; align-items: center; gap: .5rem; min-height: 2rem; }
  .information-widget-resource { font-size: .8rem; color: #cbd5e1; }
  .information-widget-datetime { font-size: 1.25rem; font-variant-numeric: tabular-nums; }
  #layout-groups { display: flex; flex-wrap: wrap; align-items: flex-start; margin: 1rem; }
  @media (min-width: 640px) { #layout-groups { margin: 1rem 2rem; } }
  .services-group { flex: 1 1 100%; padding: .25rem; min-width: 0; }
  .services-group.columns-style { flex-basis: 100%; }
  @media (min-width: 768px) { .services-group.columns-style { flex-basis: 50%; } }
  @media (min-width: 1024px) { .services-group.columns-style { flex-basis: 33.333%; } }
  @media (min-width: 1280px) { .services-group.columns-style { flex-basis: 25%; } }
  h2 { font-size: 1.15rem; font-weight: 500; margin: .25rem 0 .6rem; color: #cbd5e1; }
  ul.services-list { list-style: none; padding: 0; margin: 0; display: flex; flex-direction: column; }
  ul.services-list.row-style { display: grid; column-gap: .5rem; grid-template-columns: repeat(1, minmax(0, 1fr)); }
  @media (min-width: 768px) { ul.services-list.row-style { grid-template-columns: repeat(var(--md-cols), minmax(0, 1fr)); } }
  @media (min-width: 1024px) { ul.services-list.row-style { grid-template-columns: repeat(var(--lg-cols), minmax(0, 1fr)); } }
  li.service { margin-bottom: .5rem; }
  .service-card { display: flex; border-radius: .375rem; background: rgba(30,41,59,.85); backdrop-filter: blur(4px);
                  box-shadow: 0 2px 6px rgba(0,0,0,.3); }
  a.service-icon { flex: none; color: inherit; text-decoration: none; width: 3rem; display: flex; align-items: center; justify-content: center; }
  a.service-icon img { width: 32px; height: 32px; }
  a.service-title-text { flex: 1; min-width: 0; padding: .5rem; color: inherit; text-decoration: none; }
  .service-description { margin: 0; font-size: .75rem; color: #cbd5e1; }
  /* Show the live href on each card, so a screenshot shows which mode the links are in. */
  a.service-title-text::after { content: attr(href); display: block; margin-top: .2rem; font: .68rem ui-monospace, monospace;
                                color: #7dd3fc; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
  .bookmarks { margin: 0 2rem; font-size: .8rem; }
  .bookmarks a { color: #cbd5e1; }
  #quicklaunch[hidden] { display: none; }
  #quicklaunch { position: fixed; inset: 0; z-index: 40; background: rgba(100,116,139,.5); }
  #quicklaunch .dialog { margin: 10% auto 0; width: min(90%, 40rem); border-radius: .375rem; background: #1e293b; }
  #quicklaunch input { width: 100%; padding: 1rem; border: 0; border-bottom: 1px solid #334155; background: transparent; color: inherit; font-size: 1.1rem; }
  #quicklaunch ul { list-style: none; margin: .5rem; padding: 0; }
  #quicklaunch button { width: 100%; text-align: left; padding: .5rem 1rem; border: 0; border-radius: .375rem; background: none; color: inherit; font: inherit; }
  #quicklaunch button.current { background: rgba(51,65,85,.5); }
</style>
</head>
<body>
<div class="container">
  <div id="quicklaunch" role="dialog" aria-modal="true" aria-label="Search" hidden>
    <div class="dialog"><input placeholder="Search" aria-label="Search" type="text" autocomplete="off"><ul></ul></div>
  </div>
  <div id="information-widgets">
    <div id="information-widgets-left"><div class="information-widget-resource">CPU 3% &middot; MEM 41%</div></div>
    <div id="information-widgets-right"></div>
  </div>
  <main id="layout-groups"></main>
  <div class="bookmarks"><a class="bookmark" href="https://github.com/">GitHub</a></div>
</div>
<script>
  var GROUPS = ${JSON.stringify(groups)};
  var LAYOUT = ${JSON.stringify(layout)};
  var TARGET = ${JSON.stringify(target)};
  function el(tag, cls, text) { var e = document.createElement(tag); if (cls) e.className = cls; if (text) e.textContent = text; return e; }
  function link(cls, href) { var a = el("a", cls); a.href = href; a.target = TARGET; a.rel = "noreferrer"; return a; }
  function render() {
    var main = document.getElementById("layout-groups");
    var sections = GROUPS.map(function (g) {
      var layout = LAYOUT[g.name] || {};
      var row = layout.style === "row";
      var section = el("section", "services-group " + (row ? "row-style" : "columns-style"));
      section.dataset.group = g.name;
      section.appendChild(el("h2", "service-group-name", g.name));
      var list = el("ul", "services-list" + (row ? " row-style" : ""));
      if (row) {
        // Homepage's columnMap: 1 column below md, min(columns, 2) below lg, then columns.
        var cols = Math.max(1, layout.columns || 1);
        list.style.setProperty("--md-cols", String(Math.min(cols, 2)));
        list.style.setProperty("--lg-cols", String(cols));
      }
      g.cards.forEach(function (c) {
        var li = el("li", "service");
        li.dataset.name = c.title;
        var card = el("div", "service-card");
        var icon = link("service-icon", c.href);
        var img = el("img"); img.src = c.icon; img.alt = "logo"; icon.appendChild(img);
        var title = link("service-title-text", c.href);
        var name = el("div", "service-name", c.title);
        name.appendChild(el("p", "service-description", c.description));
        title.appendChild(name);
        card.appendChild(icon);
        card.appendChild(title);
        li.appendChild(card);
        list.appendChild(li);
      });
      section.appendChild(list);
      return section;
    });
    main.replaceChildren.apply(main, sections);
  }
  var tick;
  function mountClock() {
    var clock = el("div", "information-widget-datetime", "12:00");
    document.getElementById("information-widgets-right").appendChild(clock);
    clearInterval(tick);
    var show = function () { clock.textContent = new Date().toISOString().slice(11, 16); };
    show();
    tick = setInterval(show, 1000);
  }

  // The search launcher, from the config's services as Homepage's is.
  var SERVICES = [];
  GROUPS.forEach(function (g) { g.cards.forEach(function (c) { SERVICES.push({ name: c.title, href: c.href, description: c.description }); }); });
  var launcher = document.getElementById("quicklaunch");
  var input = launcher.querySelector("input");
  var list = launcher.querySelector("ul");
  var results = [];
  var current = 0;
  function showResults() {
    var q = input.value.toLowerCase();
    results = q.trim() ? SERVICES.filter(function (s) { return s.name.toLowerCase().indexOf(q) !== -1; }) : [];
    current = 0;
    list.replaceChildren.apply(list, results.map(function (r, i) {
      var li = el("li");
      var b = el("button", i === current ? "current" : "", r.name);
      b.type = "button";
      b.addEventListener("click", function () { current = i; openCurrent(); });
      li.appendChild(b);
      return li;
    }));
  }
  function close() { launcher.hidden = true; input.value = ""; showResults(); }
  function openCurrent() {
    var r = results[current];
    close();
    window.open(r.href, TARGET, "noreferrer");
  }
  document.addEventListener("keydown", function (e) {
    if (e.target === document.body && launcher.hidden && e.key.length === 1 && /\\w/.test(e.key) && !(e.altKey || e.ctrlKey || e.metaKey)) {
      launcher.hidden = false;
      input.focus();
    }
  });
  input.addEventListener("input", showResults);
  input.addEventListener("keydown", function (e) {
    if (e.key === "Escape") close();
    else if (e.key === "Enter" && results.length) openCurrent();
  });

  render();
  window.__rerender = render;
  window.__remountClock = function () { document.getElementById("information-widgets-right").replaceChildren(); setTimeout(mountClock, 200); };
  setTimeout(mountClock, 400);
</script>
<script src="/api/config/custom.js" async></script>
</body>
</html>
`;
}
