// A drawing of where the comparable sales lie: the home at the centre, north up, each comp at its
// offset in kilometres, with a distance scale. Drawn by the page: no map tiles, no other origin.

import { $, svg } from "./dom.js";
import { km } from "./format.js";

const SIZE = 300;
const CENTRE = SIZE / 2;
const REACH = 118; // px from the centre to the farthest comp
const NICE = [0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.5, 1, 2, 5, 10, 20, 50, 100, 200];
const COMPASS = ["east", "north-east", "north", "north-west", "west", "south-west", "south", "south-east"];

/** A sale's offset from the home in km: east and north (a flat projection, fine at town scale). */
export function offset(home, sale) {
  const cos = Math.cos((home.latitude * Math.PI) / 180);
  return {
    east: (sale.longitude - home.longitude) * 111.32 * cos,
    north: (sale.latitude - home.latitude) * 110.574,
  };
}

/** "north-east" of the home, or "at the home" when a few metres away. */
export function direction({ east, north }) {
  if (Math.hypot(east, north) < 0.005) return "at the home";
  const angle = (Math.atan2(north, east) * 180) / Math.PI;
  return COMPASS[(Math.round(angle / 45) + 8) % 8];
}

/** Draw `comps` (each with its `rank`) around `home`; `pick(rank, at)` when one is chosen or unchosen here. */
export function drawMap(home, comps, chosen, pick) {
  const spots = comps.map((sale) => ({ sale, ...offset(home, sale) }));
  const far = Math.max(0.05, ...spots.map((s) => Math.max(Math.abs(s.east), Math.abs(s.north))));
  const scale = REACH / far; // px per km
  const bar = [...NICE].reverse().find((k) => k * scale <= 110) || NICE[0];
  const parts = [
    svg("rect", { class: "ground", x: 0, y: 0, width: SIZE, height: SIZE, rx: 6 }),
    svg("circle", { class: "ring", cx: CENTRE, cy: CENTRE, r: bar * scale }),
    // North up: an arrow and its letter in the top right corner.
    svg("path", { class: "north", d: `M${SIZE - 24},16 l7,18 l-7,-5 l-7,5 z` }),
    svg("text", { x: SIZE - 24, y: 50, "text-anchor": "middle" }, "N"),
    svg("line", { class: "scale", x1: 14, x2: 14 + bar * scale, y1: SIZE - 14, y2: SIZE - 14 }),
    svg("text", { x: 14, y: SIZE - 22 }, km(bar)),
    svg("rect", { class: "subject", x: CENTRE - 7, y: CENTRE - 7, width: 14, height: 14 }),
  ];
  // The chosen comp is drawn last, on top of any it overlaps.
  const order = [...spots].sort((a, b) => (a.sale.rank === chosen) - (b.sale.rank === chosen));
  const placed = [];
  for (const { sale, east, north } of order) {
    let x = CENTRE + east * scale;
    const y = CENTRE - north * scale;
    // Sales at one place (a home sold twice) side by side, not one hidden under the other.
    while (placed.some(([px, py]) => Math.hypot(px - x, py - y) < 20)) x += 22;
    placed.push([x, y]);
    const spot = svg("g", {
      class: `spot${sale.rank === chosen ? " chosen" : ""}`,
      role: "button",
      tabindex: 0,
      "aria-pressed": sale.rank === chosen,
      "aria-label": `Comp ${sale.rank + 1}, ${km(sale.distance_km)} ${direction({ east, north })}`,
      "data-rank": sale.rank,
      "data-x": x.toFixed(1),
      "data-y": y.toFixed(1),
    });
    spot.append(
      svg("circle", { cx: x, cy: y, r: 11 }),
      svg("text", { x, y: y + 4.5, "text-anchor": "middle" }, String(sale.rank + 1)),
    );
    const toggle = () => pick(sale.rank === chosen ? -1 : sale.rank, sale.rank);
    spot.addEventListener("click", toggle);
    spot.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        toggle();
      }
    });
    parts.push(spot);
  }
  $("comps-map").replaceChildren(...parts);
  $("comps-map-desc").textContent =
    `This home is the square at the centre, north is up, and each numbered circle is a ` +
    `comparable sale where it lies; the ring and the bar are ${km(bar)}.`;
}
