/**
 * CSV as RFC 4180 writes it (and spreadsheets export it): comma-separated, fields optionally in
 * double quotes, `""` for a quote inside one, CRLF or LF line ends, an optional UTF-8 BOM. Small
 * enough to keep here rather than add a dependency for it.
 */

/** Thrown for text that is not CSV (an unterminated quoted field, text after a closing quote). */
export class CsvError extends Error {
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(`CSV line ${line}: ${message}`);
    this.name = 'CsvError';
  }
}

/** The records of a CSV text, each a list of fields; blank lines are left out. */
export function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let field = '';
  let quoted = false;
  let afterQuote = false;
  let lineNo = 1;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;

  const endField = () => {
    record.push(field);
    field = '';
    afterQuote = false;
  };
  const endRecord = () => {
    endField();
    if (!(record.length === 1 && record[0] === '')) records.push(record);
    record = [];
  };

  for (; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else {
          quoted = false;
          afterQuote = true;
        }
      } else {
        if (c === '\n') lineNo++;
        field += c;
      }
    } else if (c === ',') {
      endField();
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      endRecord();
      lineNo++;
    } else if (afterQuote) {
      throw new CsvError('text after a closing quote', lineNo);
    } else if (c === '"' && field === '') {
      quoted = true;
    } else {
      field += c;
    }
  }
  if (quoted) throw new CsvError('a quoted field is not closed', lineNo);
  if (field !== '' || record.length > 0 || afterQuote) endRecord();
  return records;
}

/** One CSV line (with its line end) of `fields`, quoting only where needed. */
export function formatCsvRecord(fields: readonly string[]): string {
  return `${fields.map((f) => (/[",\r\n]/.test(f) || /^\s|\s$/.test(f) ? `"${f.replace(/"/g, '""')}"` : f)).join(',')}\n`;
}
