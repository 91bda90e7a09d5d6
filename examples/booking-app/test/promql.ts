// A reader of PromQL that finds the metric selectors of an expression (for test/ops.test.ts): names
// with their label matchers, skipping functions, aggregations, keywords, grouping label lists,
// strings, numbers, durations and range brackets.

/** One label matcher of a selector, e.g. `outcome=~"a|b"`. */
export interface Matcher {
  label: string;
  op: '=' | '!=' | '=~' | '!~';
  value: string;
}

/** A metric selector: `name{matchers}`. */
export interface Selector {
  name: string;
  matchers: Matcher[];
}

/** Words followed by a list of label names in parentheses. */
const LABEL_LIST = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);
const KEYWORDS = new Set(['bool', 'and', 'or', 'unless', 'offset', 'atan2', 'inf', 'nan']);
/** Aggregations may put `by (…)` between their name and their parentheses. */
const AGGREGATIONS = new Set([
  'sum',
  'min',
  'max',
  'avg',
  'group',
  'stddev',
  'stdvar',
  'count',
  'count_values',
  'bottomk',
  'topk',
  'quantile',
  'limitk',
  'limit_ratio',
]);

function stringEnd(text: string, start: number): number {
  const quote = text[start];
  let i = start + 1;
  while (i < text.length && text[i] !== quote) i += text[i] === '\\' && quote !== '`' ? 2 : 1;
  if (i >= text.length) throw new SyntaxError(`unterminated string at ${start} in ${text}`);
  return i + 1;
}

function unquote(literal: string): string {
  if (literal.startsWith('`')) return literal.slice(1, -1);
  return literal.slice(1, -1).replace(/\\(.)/g, '$1');
}

/** Parse `{a="b", c=~"d"}` starting at `start` (the brace); returns the matchers and the end. */
function matchersAt(text: string, start: number): [Matcher[], number] {
  const matchers: Matcher[] = [];
  let i = start + 1;
  for (;;) {
    while (/[\s,]/.test(text[i] ?? '')) i++;
    if (text[i] === '}') return [matchers, i + 1];
    const m = /^([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*/.exec(text.slice(i));
    if (!m) throw new SyntaxError(`bad label matcher at ${i} in ${text}`);
    i += m[0].length;
    if (!`"'\``.includes(text[i] ?? ''))
      throw new SyntaxError(`matcher value not quoted in ${text}`);
    const end = stringEnd(text, i);
    matchers.push({
      label: m[1] as string,
      op: m[2] as Matcher['op'],
      value: unquote(text.slice(i, end)),
    });
    i = end;
  }
}

/** Every metric selector in `expr`, in order. Throws SyntaxError on what it cannot read. */
export function selectors(expr: string): Selector[] {
  const out: Selector[] = [];
  let labelList = false;
  let i = 0;
  while (i < expr.length) {
    const c = expr[i] as string;
    const rest = expr.slice(i);
    if (/\s/.test(c)) {
      i++;
    } else if (c === '#') {
      while (i < expr.length && expr[i] !== '\n') i++;
    } else if (`"'\``.includes(c)) {
      i = stringEnd(expr, i);
    } else if (c === '[') {
      // A range or subquery: durations, or a Grafana variable such as $__rate_interval.
      i = expr.indexOf(']', i) + 1;
      if (i === 0) throw new SyntaxError(`unclosed [ in ${expr}`);
    } else if (c === '(' && labelList) {
      i = expr.indexOf(')', i) + 1;
      labelList = false;
    } else if (c === '{') {
      const [matchers, end] = matchersAt(expr, i);
      const name = matchers.find((m) => m.label === '__name__' && m.op === '=');
      if (!name) throw new SyntaxError(`a selector without a metric name in ${expr}`);
      out.push({ name: name.value, matchers: matchers.filter((m) => m !== name) });
      i = end;
    } else if (c === '$') {
      i += /^\$\{?\w+\}?/.exec(rest)?.[0].length ?? 1;
    } else if (/[0-9.]/.test(c)) {
      const number =
        /^(?:0x[0-9a-f]+|(?:[0-9]+(?:ms|[smhdwy]))+|[0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)/i.exec(rest);
      i += number?.[0].length || 1;
    } else if (/[A-Za-z_:]/.test(c)) {
      const word = (/^[A-Za-z_:][A-Za-z0-9_:]*/.exec(rest) as RegExpExecArray)[0];
      i += word.length;
      let j = i;
      while (/\s/.test(expr[j] ?? '')) j++;
      const lower = word.toLowerCase();
      if (LABEL_LIST.has(lower)) labelList = true;
      else if (KEYWORDS.has(lower) || AGGREGATIONS.has(lower) || expr[j] === '(') {
        // a keyword, an aggregation, or a function call
      } else if (expr[j] === '{') {
        const [matchers, end] = matchersAt(expr, j);
        out.push({ name: word, matchers });
        i = end;
      } else {
        out.push({ name: word, matchers: [] });
      }
    } else {
      i++;
    }
  }
  return out;
}

/**
 * The selectors of a Grafana variable query: `label_values(selector, label)`, `query_result(expr)`
 * or plain PromQL.
 */
export function variableSelectors(query: string): Selector[] {
  const labelValues = /^\s*label_values\s*\(([\s\S]*),\s*\w+\s*\)\s*$/.exec(query);
  if (labelValues) return selectors(labelValues[1] as string);
  const result = /^\s*query_result\s*\(([\s\S]*)\)\s*$/.exec(query);
  return selectors(result ? (result[1] as string) : query);
}
