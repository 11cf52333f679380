// The model store: Modelfile parsing, strict names (a hostile corpus never
// leaves the store), create / copy / remove with shared blobs and GC.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "common/shared_data.h"
#include "store/store.h"

namespace hearth::store {
namespace {

namespace fs = std::filesystem;

TEST(Modelfile, EveryInstructionAndQuoting) {
  auto mf = parse_modelfile(R"(# a comment
from ./model.gguf
PARAMETER temperature 0.5
parameter stop "<|end|>"
PARAMETER stop ###
PARAMETER num_ctx 256
PARAMETER penalize_newline false
SYSTEM """You are
a poet."""
TEMPLATE """{{ .System }} {{ .Prompt }}"""
MESSAGE user Hello there
MESSAGE assistant "Hi!"
LICENSE MIT
ADAPTER ./lora.gguf
)");
  ASSERT_TRUE(mf.ok()) << mf.status().to_string();
  EXPECT_EQ(mf->from, "./model.gguf");
  EXPECT_EQ(mf->parameters["temperature"], 0.5);
  EXPECT_EQ(mf->parameters["stop"], nlohmann::ordered_json::array({"<|end|>", "###"}));
  EXPECT_EQ(mf->parameters["num_ctx"], 256);
  EXPECT_EQ(mf->parameters["penalize_newline"], false);
  EXPECT_EQ(mf->system, "You are\na poet.");
  EXPECT_EQ(mf->template_text, "{{ .System }} {{ .Prompt }}");
  ASSERT_EQ(mf->messages.size(), 2u);
  EXPECT_EQ(mf->messages[1].second, "Hi!");
  EXPECT_EQ(mf->licenses[0], "MIT");
  EXPECT_EQ(mf->adapters[0], "./lora.gguf");
  auto again = parse_modelfile(mf->to_text());
  ASSERT_TRUE(again.ok()) << again.status().to_string();
  EXPECT_EQ(again->system, mf->system);
  EXPECT_EQ(again->parameters, mf->parameters);
}

// What `show --modelfile` prints (to_text) reads back as the same Modelfile,
// whatever quotes the values hold (found by fuzz_modelfile: a one-line value
// with three quotes inside was written in a """block""" it closed early).
TEST(Modelfile, ToTextReadsBackUnchanged) {
  for (const char* text : {
           "FROM base\nTEMPLATE \"!\"{{ .Prompt }} x\"\"\"\n",      // quoted: !\"{{ .Prompt }} x\"\"
           "FROM base\nSYSTEM x\"\"\"\n",                             // as is, ends in three quotes
           "FROM base\nSYSTEM \"\"a\"\"\"b\n",                        // as is, starts with two
           "FROM base\nSYSTEM \"  padded \"\n",                        // quoted, outer spaces kept
           "FROM base\nSYSTEM \"\"\"two\nlines\"\"\"\nMESSAGE user\n",  // block; empty message
           "FROM \"./my model.gguf\"\nADAPTER \"\"\" spaced \"\"\"\nLICENSE \"\"\n",
           "FROM base\nPARAMETER stop \"\\\"\"\nPARAMETER stop \"<|im_end|>\"\nPARAMETER temperature 0.1\n",
           "FROM base\r\nTEMPLATE \"\"\"a\r\r\nb\r\n\"\"\"\r\n"}) {  // stray CRs at line ends
    auto a = parse_modelfile(text);
    ASSERT_TRUE(a.ok()) << text << ": " << a.status().to_string();
    const std::string out = a->to_text();
    auto b = parse_modelfile(out);
    ASSERT_TRUE(b.ok()) << out << ": " << b.status().to_string();
    EXPECT_EQ(b->from, a->from) << out;
    EXPECT_EQ(b->adapters, a->adapters) << out;
    EXPECT_EQ(b->template_text, a->template_text) << out;
    EXPECT_EQ(b->has_system, a->has_system) << out;
    EXPECT_EQ(b->system, a->system) << out;
    EXPECT_EQ(b->parameters, a->parameters) << out;
    EXPECT_EQ(b->messages, a->messages) << out;
    EXPECT_EQ(b->licenses, a->licenses) << out;
  }
}

TEST(Modelfile, ErrorsNameTheLine) {
  struct Case {
    const char* text;
    const char* want;
  } cases[] = {
      {"FROM x\nPARAMETER temperature hot\n", "line 2"},
      {"FROM x\nPARAMETER flux 1\n", "unknown parameter"},
      {"FROM x\n\nPARAMETER top_k 1.5\n", "line 3"},
      {"FROM x\nSYSTEM \"\"\"never closed\n", "unterminated"},
      {"FROM x\nMESSAGE robot hi\n", "MESSAGE role"},
      {"FROM x\nBOGUS y\n", "unknown instruction"},
      {"PARAMETER top_k 1\n", "no FROM"},
  };
  for (const auto& c : cases) {
    auto r = parse_modelfile(c.text);
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_NE(r.status().message().find(c.want), std::string::npos) << r.status().message();
  }
}

TEST(ModelNames, HostileNamesAreRejected) {
  const std::vector<std::string> corpus = {"../x", "..", "a/../../b", "/etc/passwd", "a/b/c", "x:../y", std::string("a\0b", 3), "",
                                           std::string(300, 'a'), ".hidden", "-flag", "na me", "mödel", "\xd0\xb0pple" /* Cyrillic a */,
                                           "a\\b", "a:b:c", "x/", ":tag"};
  for (const std::string& bad : corpus) {
    EXPECT_FALSE(parse_model_name(bad).ok()) << "accepted: " << bad;
  }
  auto n = parse_model_name("team/dream:v1");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->manifest_path(), "team/dream/v1");
  EXPECT_EQ(parse_model_name("dream")->display(), "dream:latest");
}

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    home_ = ::testing::TempDir() + "hearth-store-" + std::to_string(getpid()) + "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(home_);
  }
  void TearDown() override { fs::remove_all(home_); }
  size_t blob_count() const {
    size_t n = 0;
    for (const auto& e : fs::directory_iterator(home_ + "/blobs"))
      if (e.path().filename().string().rfind("sha256-", 0) == 0) ++n;
    return n;
  }
  std::string home_;
};

TEST_F(StoreTest, CreateCopyRemoveSharesAndFreesBlobs) {
  Store s(home_);
  std::string model = test::shared_path("models/aidreams260K.gguf");
  auto m = s.create("dream", "FROM " + model + "\nSYSTEM be brief\nPARAMETER temperature 0\n", "/");
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  EXPECT_EQ(m->model_size, fs::file_size(model));
  EXPECT_TRUE(fs::exists(s.blob_path(m->model_digest)));
  // A second model from the same file shares the blob.
  ASSERT_TRUE(s.create("other", "FROM " + model + "\n", "/").ok());
  EXPECT_EQ(blob_count(), 1u);
  // Derived from a store name: inherits, overrides.
  auto d = s.create("dream-hot", "FROM dream\nPARAMETER temperature 1.5\n", "/");
  ASSERT_TRUE(d.ok()) << d.status().to_string();
  EXPECT_EQ(d->modelfile.system, "be brief");
  EXPECT_EQ(d->modelfile.parameters["temperature"], 1.5);
  ASSERT_TRUE(s.copy("dream", "copy:v2").ok());
  EXPECT_EQ(s.list().size(), 4u);
  ASSERT_TRUE(s.remove("dream").ok());
  EXPECT_TRUE(s.get("copy:v2").ok());
  EXPECT_EQ(blob_count(), 1u);  // still used
  for (const char* n : {"other", "dream-hot", "copy:v2"}) ASSERT_TRUE(s.remove(n).ok());
  EXPECT_EQ(blob_count(), 0u);  // the last user freed it
  EXPECT_EQ(s.remove("copy:v2").code(), StatusCode::kNotFound);
}

TEST_F(StoreTest, BadInputsAreClearErrors) {
  Store s(home_);
  EXPECT_EQ(s.create("x", "FROM /nonexistent.gguf\n", "/").status().code(), StatusCode::kNotFound);
  std::string notgguf = home_ + "/not.gguf";
  { std::ofstream(notgguf) << "hello"; }
  EXPECT_FALSE(s.create("x", "FROM " + notgguf + "\n", "/").ok());
  EXPECT_FALSE(s.create("../../escape", "FROM " + test::shared_path("models/aidreams260K.gguf") + "\n", "/").ok());
  EXPECT_TRUE(s.list().empty());
}

// Uploads: written as they come, kept only under their own sha256; a model
// created from an uploaded blob uses it in place (no second copy).
TEST_F(StoreTest, BlobUploadsAreCheckedAndUsedInPlace) {
  Store s(home_);
  const std::string model = test::shared_path("models/aidreams260K.gguf");
  std::ifstream in(model, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto digest_of = [&](const std::string& data) {
    auto w = BlobWriter::open(s);
    EXPECT_TRUE(w.ok());
    EXPECT_TRUE(w.value()->write(data.data(), data.size()).ok());
    auto d = w.value()->commit("sha256-" + std::string(64, '0'));
    EXPECT_EQ(d.status().code(), StatusCode::kInvalidArgument);  // the mismatch names the real digest
    const std::string msg = d.status().message();
    return msg.substr(msg.find("sha256-"), 71);
  };
  const std::string digest = digest_of(bytes);
  EXPECT_EQ(blob_count(), 0u);  // nothing kept from the mismatch
  EXPECT_FALSE(s.has_blob(digest));
  {
    auto w = BlobWriter::open(s);
    ASSERT_TRUE(w.ok());
    for (size_t at = 0; at < bytes.size(); at += 4096)  // in pieces
      ASSERT_TRUE(w.value()->write(bytes.data() + at, std::min<size_t>(4096, bytes.size() - at)).ok());
    auto d = w.value()->commit(digest);
    ASSERT_TRUE(d.ok()) << d.status().to_string();
    EXPECT_EQ(d.value(), digest);
  }
  EXPECT_TRUE(s.has_blob(digest));
  EXPECT_TRUE(s.has_blob("sha256:" + digest.substr(7)));  // Ollama's spelling
  EXPECT_EQ(blob_count(), 1u);
  for (const auto& e : fs::directory_iterator(home_ + "/blobs")) EXPECT_EQ(e.path().filename().string(), digest);
  // Another model's removal leaves the fresh upload (a client creates from it next).
  ASSERT_TRUE(s.create("other", "FROM " + test::shared_path("models/synth-llama-spm512-Q4_0.gguf") + "\n", "/").ok());
  ASSERT_TRUE(s.remove("other").ok());
  EXPECT_TRUE(s.has_blob(digest));
  auto m = s.create("up", "FROM " + s.blob_path(digest) + "\n", "/");
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  EXPECT_EQ(m->model_digest, digest);
  EXPECT_EQ(m->model_size, bytes.size());
  EXPECT_EQ(blob_count(), 1u);
  EXPECT_FALSE(normalize_digest("sha256-" + std::string(63, 'a')));
  EXPECT_FALSE(normalize_digest("sha256-" + std::string(63, 'a') + "g"));
  EXPECT_EQ(normalize_digest("sha256:" + std::string(64, 'A')).value(), "sha256-" + std::string(64, 'a'));
}

// Writes into the store stop above its free-space reserve with kNoSpace and
// leave nothing behind; nothing already stored is touched.
TEST_F(StoreTest, WritesKeepTheDiskReserveFree) {
  Store s(home_);
  const std::string model = test::shared_path("models/aidreams260K.gguf");
  auto kept = s.import_blob(model);
  ASSERT_TRUE(kept.ok()) << kept.status().to_string();
  auto entries = [&] {
    size_t n = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator(home_ + "/blobs")) ++n;
    return n;
  };
  ASSERT_EQ(entries(), 1u);
  EXPECT_TRUE(s.check_space(1 << 20).ok());
  EXPECT_EQ(s.check_space(~0ull >> 1).code(), StatusCode::kNoSpace);  // more than any disk
  // A size known up front is refused at once.
  auto big = BlobWriter::open(s, ~0ull >> 1);
  EXPECT_EQ(big.status().code(), StatusCode::kNoSpace);
  EXPECT_NE(big.status().message().find("not enough disk space"), std::string::npos) << big.status().message();
  s.set_min_free_bytes(~0ull >> 1);  // a reserve no disk has: every write stops
  {
    auto w = BlobWriter::open(s);  // (no size: a chunked upload)
    ASSERT_TRUE(w.ok());
    const std::string data(1000, 'x');
    EXPECT_EQ(w.value()->write(data.data(), data.size()).code(), StatusCode::kNoSpace);
    EXPECT_EQ(w.value()->commit("").status().code(), StatusCode::kNoSpace);  // and stays failed
  }
  EXPECT_EQ(s.import_blob(test::shared_path("models/synth-llama-spm512-Q4_0.gguf")).status().code(), StatusCode::kNoSpace);
  EXPECT_EQ(entries(), 1u);  // no temporary file left, the stored blob kept
  EXPECT_TRUE(s.has_blob(kept.value()));
  auto again = s.import_blob(s.blob_path(kept.value()));  // a blob of the store: taken as it is, nothing written
  ASSERT_TRUE(again.ok()) << again.status().to_string();
  EXPECT_EQ(again.value(), kept.value());
  // Reserve sizes as users write them.
  EXPECT_EQ(parse_byte_size("1048576"), 1048576u);
  EXPECT_EQ(parse_byte_size("2G"), 2ull << 30);
  EXPECT_EQ(parse_byte_size("512MiB"), 512ull << 20);
  EXPECT_EQ(parse_byte_size("1tb"), 1ull << 40);
  EXPECT_EQ(parse_byte_size("0"), 0u);
  EXPECT_FALSE(parse_byte_size(""));
  EXPECT_FALSE(parse_byte_size("G"));
  EXPECT_FALSE(parse_byte_size("2X"));
  EXPECT_FALSE(parse_byte_size("-1"));
  EXPECT_FALSE(parse_byte_size("99999999999999999999"));
  EXPECT_FALSE(parse_byte_size("99999999999T"));
}

// A file written inside the store (a quantized model) is moved into place.
TEST_F(StoreTest, AdoptBlobMovesAFileIntoPlace) {
  Store s(home_);
  const std::string tmp = home_ + "/blobs/.tmp-test";
  fs::copy_file(test::shared_path("models/aidreams260K.gguf"), tmp);
  auto d = s.adopt_blob(tmp);
  ASSERT_TRUE(d.ok()) << d.status().to_string();
  EXPECT_FALSE(fs::exists(tmp));
  EXPECT_TRUE(s.has_blob(d.value()));
  EXPECT_EQ(sha256_file(s.blob_path(d.value())).value(), d.value());
  fs::copy_file(test::shared_path("models/aidreams260K.gguf"), tmp);  // the same bytes again: stored once
  EXPECT_EQ(s.adopt_blob(tmp).value(), d.value());
  EXPECT_FALSE(fs::exists(tmp));
  EXPECT_EQ(blob_count(), 1u);
}

}  // namespace
}  // namespace hearth::store

#include "store/go_template.h"

namespace hearth::store {
namespace {

std::string go(const std::string& t, const nlohmann::ordered_json& d) {
  auto tmpl = GoTemplate::parse(t);
  EXPECT_TRUE(tmpl.ok()) << tmpl.status().to_string();
  if (!tmpl.ok()) return "<parse error>";
  auto r = tmpl.value()->render(d);
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  return r.ok() ? r.value() : "<render error>";
}

TEST(GoTemplate, OllamaTemplateFeatures) {
  nlohmann::ordered_json d = {{"System", "S"}, {"Prompt", "P"}, {"Response", ""},
                              {"Messages", {{{"Role", "user"}, {"Content", "hi"}}, {{"Role", "assistant"}, {"Content", "yo"}}}},
                              {"Tools", nlohmann::ordered_json::array()}};
  EXPECT_EQ(go("{{ if .System }}<s>{{ .System }}</s>{{ end }}{{ .Prompt }}", d), "<s>S</s>P");
  EXPECT_EQ(go("{{- range .Messages }}[{{ .Role }}] {{ .Content }}\n{{- end }}", d), "[user] hi[assistant] yo");
  EXPECT_EQ(go("{{ range .Messages }}{{ if eq .Role \"user\" }}U:{{ else if eq .Role \"assistant\" }}A:{{ else }}?{{ end }}{{ .Content }}{{ $.System }};{{ end }}", d),
            "U:hiS;A:yoS;");
  EXPECT_EQ(go("{{ range .Tools }}x{{ else }}no tools{{ end }}", d), "no tools");
  EXPECT_EQ(go("a {{- /* c */ -}} b {{ and .System (not .Response) }} {{ len .Messages }}", d), "ab true 2");
  EXPECT_EQ(go("{{ .Missing }}|{{ .Messages.Nope }}", d), "|");
  for (const char* bad : {"{{ if .X }}never ended", "{{ end }}", "{{ frobnicate .X }}", "{{ .X", "{{ \"open }}",
                          "{{}}", "{{ }}", "a {{ \v }} b", "{{\f}}", "{{- \v -}}"})
    EXPECT_FALSE(GoTemplate::parse(bad).ok()) << bad;
}

// A hostile template (an API request's `template`) nests terms 100000 deep:
// refused by name, not a stack overflow; 100 levels still parse.
TEST(GoTemplate, DeepNestingIsRefused) {
  for (const std::string& deep : {"{{ " + std::string(100000, '(') + "1" + std::string(100000, ')') + " }}",
                                  [] { std::string s = "{{ "; for (int i = 0; i < 100000; ++i) s += "not "; return s + "1 }}"; }()}) {
    auto t = GoTemplate::parse(deep);
    ASSERT_FALSE(t.ok());
    EXPECT_NE(t.status().message().find("nests deeper than 100"), std::string::npos) << t.status().message();
  }
  nlohmann::ordered_json d = {{"Prompt", "P"}};
  EXPECT_EQ(go("{{ " + std::string(50, '(') + "not .Prompt" + std::string(50, ')') + " }}", d), "false");
}

// Ollama's tool templates read Go struct fields (.Function.Name) of data
// that print as lower-case JSON: tools and calls are passed as that JSON and
// found by the field with its first letter lowered.
TEST(GoTemplate, ToolsAndToolCallsAsOllamaTemplatesReadThem) {
  nlohmann::ordered_json d = {
      {"Tools", nlohmann::ordered_json::parse(R"([{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}])")},
      {"Messages", nlohmann::ordered_json::parse(R"([{"Role": "assistant", "Content": "",
          "ToolCalls": [{"function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]}])")}};
  EXPECT_EQ(go("{{- if .Tools }}<tools>{{- range .Tools }}\n{\"type\": \"function\", \"function\": {{ .Function }}}{{- end }}</tools>{{ end }}"
               "{{- range .Messages }}{{ if .ToolCalls }}{{ range .ToolCalls }}<tool_call>{\"name\": \"{{ .Function.Name }}\", "
               "\"arguments\": {{ .Function.Arguments }}}</tool_call>{{ end }}{{ end }}{{ end }}",
               d),
            "<tools>\n{\"type\": \"function\", \"function\": {\"name\":\"get_weather\",\"parameters\":{\"type\":\"object\"}}}</tools>"
            "<tool_call>{\"name\": \"get_weather\", \"arguments\": {\"city\":\"Paris\"}}</tool_call>");
  EXPECT_EQ(go("{{ .Tools.Nope }}|{{ range .Messages }}{{ .role }}{{ end }}", d), "|");  // only the first letter, only upper to lower
}

// Fill-in-the-middle support is decided by the template's use of .Suffix,
// inside actions only.
TEST(GoTemplate, UsesField) {
  auto fim = GoTemplate::parse("{{- if .Suffix }}<PRE> {{ .Prompt }} <SUF>{{ .Suffix }} <MID>{{- else }}{{ .Prompt }}{{- end }}");
  ASSERT_TRUE(fim.ok());
  EXPECT_TRUE(fim.value()->uses_field("Suffix"));
  EXPECT_TRUE(fim.value()->uses_field("Prompt"));
  EXPECT_FALSE(fim.value()->uses_field("System"));
  nlohmann::ordered_json d = {{"Prompt", "def f("}, {"Suffix", "):"}};
  EXPECT_EQ(fim.value()->render(d).value(), "<PRE> def f( <SUF>): <MID>");
  for (const char* no : {"{{ .Prompt }} .Suffix", "{{ .Suffixes }}", "{{ .Messages.Suffix }}", "{{ .Prompt }}"}) {
    auto t = GoTemplate::parse(no);
    ASSERT_TRUE(t.ok()) << no;
    EXPECT_FALSE(t.value()->uses_field("Suffix")) << no;
  }
  EXPECT_TRUE(GoTemplate::parse("{{ $.Suffix }}").value()->uses_field("Suffix"));
}

}  // namespace
}  // namespace hearth::store
