// Reading a CSV answer (RFC 4180: quoted fields, doubled quotes, CRLF or LF line ends).

/**
 * The header, the first `keep` records and the number of records after the header.
 * One pass over the text; only the kept records are split into fields.
 */
export function readCsv(text, keep) {
  const records = [];
  let count = 0;
  let start = 0;
  let quoted = false;
  const length = text.length;
  for (let i = 0; i <= length; i += 1) {
    const c = i < length ? text.charCodeAt(i) : 10;
    if (c === 34) quoted = !quoted;
    else if (c === 10 && !quoted) {
      let end = i;
      if (end > start && text.charCodeAt(end - 1) === 13) end -= 1;
      if (end > start) {
        if (records.length <= keep) records.push(fields(text.slice(start, end)));
        count += 1;
      }
      start = i + 1;
      if (i === length - 1) break;
    }
  }
  const [header = [], ...rows] = records;
  return { header, rows: rows.slice(0, keep), count: Math.max(0, count - 1) };
}

function fields(line) {
  const out = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < line.length; i += 1) {
    const c = line[i];
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        field += '"';
        i += 1;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      out.push(field);
      field = "";
    } else field += c;
  }
  out.push(field);
  return out;
}
