// The Jinja interpreter: language features, errors with useful messages, and
// hostile templates that must end with an error instead of hanging or
// exhausting memory.
#include <gtest/gtest.h>

#include "chat/chat_template.h"
#include "chat/jinja/template.h"

namespace hearth::chat::jinja {
namespace {

Result<std::string> render(const std::string& src, std::map<std::string, Value> globals = {}, RenderOptions opts = {}) {
  auto t = Template::parse(src);
  if (!t.ok()) return t.status();
  return t.value()->render(globals, opts);
}

std::string ok(const std::string& src, std::map<std::string, Value> globals = {}) {
  auto r = render(src, std::move(globals));
  EXPECT_TRUE(r.ok()) << src << " -> " << r.status().to_string();
  return r.ok() ? r.value() : "<error>";
}

TEST(Jinja, ExpressionsAndOperators) {
  EXPECT_EQ(ok("{{ 1 + 2 * 3 }}|{{ 7 // 2 }}|{{ -7 // 2 }}|{{ 7 % 3 }}|{{ 2 ** 10 }}|{{ 7 / 2 }}"), "7|3|-4|1|1024|3.5");
  EXPECT_EQ(ok("{{ 'a' ~ 1 ~ none }}|{{ 'x' if false else 'y' }}|{{ [1,2,3][1:] }}|{{ 'hello'[::-1] }}"), "a1None|y|[2, 3]|olleh");
  EXPECT_EQ(ok("{{ 'b' in 'abc' }} {{ 2 not in [1, 3] }} {{ not true or (1 < 2 and 2 >= 2) }}"), "True True True");
  EXPECT_EQ(ok("{{ {'a': 1, 'b': [true, none]} | tojson }}"), "{\"a\": 1, \"b\": [true, null]}");
  EXPECT_EQ(ok("{{ {'a': 'é'} | tojson(indent=2) }}"), "{\n  \"a\": \"é\"\n}");
  EXPECT_EQ(ok("{{ 'A b'.lower() }}|{{ ' x '.strip() }}|{{ 'a,b'.split(',') }}|{{ 'ab'.startswith('a') }}"), "a b|x|['a', 'b']|True");
}

TEST(Jinja, StatementsAndScopes) {
  EXPECT_EQ(ok("{% for x in [1,2,3,4] %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 4 %}{% break %}{% endif %}"
               "{{ loop.index }}{{ x }}{% if not loop.last %},{% endif %}{% endfor %}"),
            "11,33,");
  EXPECT_EQ(ok("{% for k, v in {'a': 1, 'b': 2} | items %}{{ k }}={{ v }};{% else %}none{% endfor %}"), "a=1;b=2;");
  EXPECT_EQ(ok("{% for x in [] %}x{% else %}empty{% endfor %}"), "empty");
  EXPECT_EQ(ok("{% set ns = namespace(n=0) %}{% for i in range(5) %}{% set ns.n = ns.n + i %}{% endfor %}{{ ns.n }}"), "10");
  EXPECT_EQ(ok("{% set x = 1 %}{% for i in [1] %}{% set x = 2 %}{% endfor %}{{ x }}"), "1");
  EXPECT_EQ(ok("{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}{{ greet('Ann') }} {{ greet('Bo', punct='?') }}"),
            "Hi Ann! Hi Bo?");
  EXPECT_EQ(ok("{% macro box() %}[{{ caller() }}]{% endmacro %}{% call box() %}inside{% endcall %}"), "[inside]");
  EXPECT_EQ(ok("{% set block %}  padded  {% endset %}[{{ block | trim }}]{% filter upper %}loud{% endfilter %}"), "[padded]LOUD");
  EXPECT_EQ(ok("{{ x is defined }} {{ none is none }} {{ 3 is odd }} {{ 'a' is string }} {{ {} is mapping }} {{ 6 is divisibleby 3 }}"),
            "False True True True True True");
}

TEST(Jinja, WhitespaceControl) {
  EXPECT_EQ(ok("a  {%- if true -%}  b  {%- endif -%}  c"), "abc");
  EXPECT_EQ(ok("{% if true %}\n  x\n{% endif %}\n"), "  x\n");       // trim_blocks
  EXPECT_EQ(ok("line\n    {% if true %}y{% endif %}"), "line\ny");  // lstrip_blocks
  EXPECT_EQ(ok("{# comment #}z"), "z");
  EXPECT_EQ(ok("{% raw %}{{ not evaluated }}{% endraw %}"), "{{ not evaluated }}");
}

TEST(Jinja, FiltersUsedByModelTemplates) {
  Value msgs = from_json(nlohmann::ordered_json::parse(R"([{"role":"user","c":1},{"role":"tool","c":2},{"role":"user","c":3}])"));
  EXPECT_EQ(ok("{{ m | selectattr('role', 'equalto', 'user') | map(attribute='c') | join(',') }}", {{"m", msgs}}), "1,3");
  EXPECT_EQ(ok("{{ m | rejectattr('role', 'equalto', 'user') | list | length }}", {{"m", msgs}}), "1");
  EXPECT_EQ(ok("{{ m | first | tojson }}", {{"m", msgs}}), "{\"role\": \"user\", \"c\": 1}");
  EXPECT_EQ(ok("{{ x | default('d') }}|{{ '' | default('e', true) }}|{{ 'a b' | replace(' ', '_') | upper }}"), "d|e|A_B");
  EXPECT_EQ(ok("{{ 'x\ny' | indent(2, first=true) }}"), "  x\n  y");
  EXPECT_EQ(ok("{{ '3' | int + 1 }} {{ 2.5 | round }} {{ [3,1,2] | sort | list }}"), "4 3.0 [1, 2, 3]");
}

TEST(Jinja, ErrorsNameTheProblem) {
  auto r = render("{{ raise_exception('Roles must alternate') }}");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("Roles must alternate"), std::string::npos);
  r = render("{{ 'a' + x }}");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("'x' is undefined"), std::string::npos);
  r = render("{{ 'a' + {} }}");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("can only concatenate str"), std::string::npos);
  r = render("{% if x %}unterminated");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("endif"), std::string::npos);
  r = render("line1\n{{ 1 + }}");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("line 2"), std::string::npos);
  EXPECT_FALSE(render("{% for %}").ok());
  EXPECT_FALSE(render("{{ 'unterminated }}").ok());
  EXPECT_FALSE(render("{% frobnicate %}").ok());
}

TEST(Jinja, HostileTemplatesEndWithAnError) {
  RenderOptions fast;
  fast.budget.max_time = std::chrono::milliseconds(500);
  // Unbounded recursion.
  auto r = render("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", {}, fast);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("recursion"), std::string::npos);
  // Exponential output.
  r = render("{% set s = 'xxxxxxxxxx' %}{% for i in range(100) %}{% set s = s ~ s %}{% endfor %}{{ s }}", {}, fast);
  EXPECT_FALSE(r.ok());
  r = render("{{ 'x' * 100000000000 }}", {}, fast);
  EXPECT_FALSE(r.ok());
  // Long loops run out of steps or time.
  r = render("{% for i in range(1000000) %}{% for j in range(1000000) %}{% endfor %}{% endfor %}", {}, fast);
  ASSERT_FALSE(r.ok());
  // Deep nesting is a syntax error, not a stack overflow.
  EXPECT_FALSE(render("{{ " + std::string(100000, '(') + "1" + std::string(100000, ')') + " }}").ok());
  std::string deep;
  for (int i = 0; i < 5000; ++i) deep += "{% if true %}";
  EXPECT_FALSE(render(deep).ok());
  // No access to the host: unknown names are undefined, not environment.
  EXPECT_EQ(ok("{{ environ }}{{ self }}{{ config }}"), "");
}

TEST(ChatTemplate, BuiltinsRenderAConversation) {
  RenderRequest req;
  req.messages = nlohmann::ordered_json::parse(R"([{"role":"system","content":"S"},{"role":"user","content":"U"}])");
  req.bos_token = "<s>";
  req.eos_token = "</s>";
  for (const std::string& name : builtin_template_names()) {
    auto src = builtin_template_source(name);
    ASSERT_TRUE(src.ok());
    auto t = Template::parse(src.value());
    ASSERT_TRUE(t.ok()) << name << ": " << t.status().to_string();
    auto out = chat::render(*t.value(), req);
    ASSERT_TRUE(out.ok()) << name << ": " << out.status().to_string();
    EXPECT_NE(out->find("U"), std::string::npos) << name;
  }
  auto t = Template::parse(builtin_template_source("chatml").value());
  EXPECT_EQ(chat::render(*t.value(), req).value(),
            "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_FALSE(builtin_template_source("nope").ok());
  req.messages = nlohmann::ordered_json::parse(R"([{"content":"no role"}])");
  EXPECT_FALSE(chat::render(*t.value(), req).ok());
}

}  // namespace
}  // namespace hearth::chat::jinja
