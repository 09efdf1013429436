import type { HomepageConfig } from "../../components/render/homepage";

/**
 * A stand-in for Homepage's rendered dashboard, built from the generated
 * services config, with the markup the toggle relies on:
 *   #information-widgets-right > .information-widget-datetime   (the clock)
 *   li.service > .service-card > a.service-icon, a.service-title-text
 * Like the real app, it mounts the clock late, ticks it every second, and can
 * re-render the cards (window.__rerender) or remount the widgets
 * (window.__remountClock). It loads /api/config/custom.js as Homepage does.
 */
export function dashboardFixture(config: HomepageConfig): string {
  const groups = config.services.map((g) => {
    const [name, cards] = Object.entries(g)[0];
    return { name, cards: cards.map((c) => ({ title: Object.keys(c)[0], ...Object.values(c)[0] })) };
  });
  return `<!doctype html>
<html lang="en" class="dark">
<head>
<meta charset="utf-8">
<title>Homelab (fixture)</title>
<style>
  body { margin: 0; min-height: 100vh; font: 14px/1.4 system-ui, sans-serif; color: #e2e8f0;
         background: radial-gradient(circle at 20% 10%, #334155, #0f172a 60%); }
  #information-widgets { display: flex; justify-content: space-between; align-items: center; padding: 1rem 2rem;
                         border-bottom: 1px solid rgba(255,255,255,.1); }
  #information-widgets-left, #information-widgets-right { display: flex; align-items: center; gap: .5rem; min-height: 2rem; }
  .information-widget-resource { font-size: .8rem; color: #94a3b8; }
  .information-widget-datetime { font-size: 1.25rem; font-variant-numeric: tabular-nums; }
  main { padding: 1rem 2rem; }
  h2 { font-size: 1.1rem; font-weight: 500; margin: 1rem 0 .5rem; }
  ul.services-list { list-style: none; padding: 0; margin: 0; display: grid; grid-template-columns: repeat(4, minmax(0, 1fr)); gap: .6rem; }
  .service-card { display: flex; border-radius: .375rem; background: rgba(255,255,255,.08); backdrop-filter: blur(4px);
                  box-shadow: 0 2px 6px rgba(0,0,0,.3); }
  a.service-icon { flex: none; color: inherit; text-decoration: none; width: 3rem; display: flex; align-items: center; justify-content: center; }
  a.service-icon img, .cdn-icon { width: 32px; height: 32px; }
  .cdn-icon { display: flex; align-items: center; justify-content: center; border-radius: 50%; background: #475569; font-weight: 600; }
  a.service-title-text { flex: 1; min-width: 0; padding: .5rem; color: inherit; text-decoration: none; }
  .service-description { margin: 0; font-size: .75rem; color: #94a3b8; }
  /* Show the live href on each card, so a screenshot shows which mode the links are in. */
  a.service-title-text::after { content: attr(href); display: block; margin-top: .2rem; font: .68rem ui-monospace, monospace;
                                color: #7dd3fc; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
  .bookmarks { margin-top: 1.5rem; font-size: .8rem; }
  .bookmarks a { color: #94a3b8; }
</style>
</head>
<body>
<div id="information-widgets">
  <div id="information-widgets-left"><div class="information-widget-resource">CPU 3% &middot; MEM 41%</div></div>
  <div id="information-widgets-right"></div>
</div>
<main id="services"></main>
<div class="bookmarks"><a class="bookmark" href="https://github.com/">GitHub</a></div>
<script>
  var GROUPS = ${JSON.stringify(groups)};
  function el(tag, cls, text) { var e = document.createElement(tag); if (cls) e.className = cls; if (text) e.textContent = text; return e; }
  function link(cls, href) { var a = el("a", cls); a.href = href; a.target = "_blank"; a.rel = "noreferrer"; return a; }
  function render() {
    var main = document.getElementById("services");
    var sections = GROUPS.map(function (g) {
      var section = el("section", "services-group");
      section.appendChild(el("h2", "service-group-name", g.name));
      var list = el("ul", "services-list");
      g.cards.forEach(function (c) {
        var li = el("li", "service");
        li.dataset.name = c.title;
        var card = el("div", "service-card");
        var icon = link("service-icon", c.href);
        if (c.icon.charAt(0) === "/") { var img = el("img"); img.src = c.icon; img.alt = "logo"; icon.appendChild(img); }
        else icon.appendChild(el("span", "cdn-icon", c.title.charAt(0)));
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
    tick = setInterval(function () { clock.textContent = new Date().toISOString().slice(11, 19); }, 1000);
  }
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
