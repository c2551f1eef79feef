// Numbers in words people read: whole dollars with separators, percentages, dates.

const dollars = new Intl.NumberFormat("en-US", {
  style: "currency", currency: "USD", maximumFractionDigits: 0, minimumFractionDigits: 0,
});
const plain = new Intl.NumberFormat("en-US", { maximumFractionDigits: 2 });

/** "$225,312"; a negative amount as "−$81,106". */
export function money(value) {
  const text = dollars.format(Math.abs(value));
  return value < 0 && Math.round(value) !== 0 ? `−${text}` : text;
}

/** "+$10,685" or "−$81,106": a part added to the price. */
export function signedMoney(value) {
  return Math.round(value) > 0 ? `+${money(value)}` : money(value);
}

/** 0.9 → "90 %". */
export function percent(fraction, digits = 0) {
  return `${(fraction * 100).toFixed(digits)} %`;
}

/** 1500 → "1,500"; 2.5 → "2.5". */
export function number(value) {
  return plain.format(value);
}

/** An ISO time as "27 Nov 2026, 18:05" in the reader's time zone. */
export function when(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return date.toLocaleString("en-GB", {
    day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit",
  });
}

/** An ISO date as "2 Nov 2026". */
export function day(iso) {
  const date = new Date(`${iso}T00:00:00`);
  if (Number.isNaN(date.getTime())) return iso;
  return date.toLocaleDateString("en-GB", { day: "numeric", month: "short", year: "numeric" });
}

/** "1 home", "3 homes". */
export function plural(n, one, many = `${one}s`) {
  return `${number(n)} ${n === 1 ? one : many}`;
}

/** "2015-05" as "May 2015". */
export function month(iso) {
  const date = new Date(`${iso}-01T00:00:00`);
  if (Number.isNaN(date.getTime())) return iso;
  return date.toLocaleDateString("en-GB", { month: "short", year: "numeric" });
}

/** A distance: "0.41 km", "3.2 km". */
export function km(value) {
  return `${value < 1 ? value.toFixed(2) : value.toFixed(1)} km`;
}

/** A message of the API as a sentence: its first letter capital, a full stop at the end. */
export function sentence(text) {
  const trimmed = text.trim();
  const first = trimmed.charAt(0).toUpperCase() + trimmed.slice(1);
  return /[.!?]$/.test(first) ? first : `${first}.`;
}
