// Every text of the console exists in English and in German, and the escaping helper keeps
// text as text.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { html } from '../../service/console/html.js';
import { catalogKeys, translator } from '../../service/console/messages.js';

test('the English and German catalogs hold the same keys, each with a text of its own', () => {
  const en = catalogKeys('en');
  const de = catalogKeys('de');
  assert.ok(en.length > 50);
  assert.deepEqual([...de].sort(), [...en].sort());
  const english = translator('en');
  const german = translator('de');
  const same = en.filter((key) => english(key as never) === german(key as never) && !/^(col\.(hostname|status)|fleet\.status|device\.code)$/.test(key));
  assert.deepEqual(same, [], 'keys whose German text is still the English one');
});

test('the template escapes every value it is given, once', () => {
  const hostile = `<img src=x onerror="alert('x')">&`;
  assert.equal(html`<p title="${hostile}">${hostile}</p>`.text, '<p title="&lt;img src=x onerror=&quot;alert(&#39;x&#39;)&quot;&gt;&amp;">&lt;img src=x onerror=&quot;alert(&#39;x&#39;)&quot;&gt;&amp;</p>');
  assert.equal(html`<div>${html`<b>${'<i>'}</b>`}${[1, '<', null]}</div>`.text, '<div><b>&lt;i&gt;</b>1&lt;</div>');
});
