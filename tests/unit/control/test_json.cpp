// The strict JSON reader and the status object read back from the daemon's
// JSON (to_json), including what `linetimectl peers --json` prints.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "control/json.h"
#include "control/status.h"

using namespace linetime::control;

TEST(Json, Values) {
  auto v = parse_json(R"( {"a": [1, -2.5e3, 0.25, true, false, null], "b": {"c": "x\u00e9\ud83d\ude00\n\"\\/"}} )");
  ASSERT_TRUE(v.has_value()) << v.error();
  const JsonValue* a = v->find("a");
  ASSERT_NE(a, nullptr);
  ASSERT_EQ(a->kind(), JsonValue::Kind::kArray);
  ASSERT_EQ(a->items().size(), 6u);
  EXPECT_EQ(a->items()[0].number(), 1);
  EXPECT_EQ(a->items()[1].number(), -2500);
  EXPECT_EQ(a->items()[2].number(), 0.25);
  EXPECT_TRUE(a->items()[3].boolean());
  EXPECT_FALSE(a->items()[4].boolean());
  EXPECT_TRUE(a->items()[5].is_null());
  EXPECT_EQ(v->find("b")->find("c")->string(), "x\xc3\xa9\xf0\x9f\x98\x80\n\"\\/");
  EXPECT_EQ(v->keys(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(v->find("z"), nullptr);
  EXPECT_EQ(a->find("a"), nullptr);
}

TEST(Json, RejectsWhatIsNotStrictJson) {
  const char* bad[] = {
      "",                  // nothing
      "{",                 // unterminated
      "{\"a\":1,}",        // trailing comma
      "[1,]",              // trailing comma
      "{\"a\":1 \"b\":2}", // missing comma
      "{a:1}",             // unquoted key
      "{\"a\":1,\"a\":2}", // duplicate key
      "01",                // leading zero
      "1.",                // no fraction digits
      ".5",                // no integer part
      "-",                 // sign only
      "1e",                // no exponent digits
      "+1",                // plus sign
      "NaN",               // not JSON
      "'x'",               // single quotes
      "\"a\tb\"",          // raw control character
      "\"\\x\"",           // unknown escape
      "\"\\u12\"",         // short \u
      "\"\\udc00\"",       // lone low surrogate
      "\"\\ud800x\"",      // high surrogate alone
      "[1] [2]",           // two values
      "tru",               // cut literal
      "{\"a\":1} x",       // garbage after
      "/* c */ 1",         // comments
  };
  for (const char* text : bad) {
    auto v = parse_json(text);
    EXPECT_FALSE(v.has_value()) << "accepted: " << text;
    if (!v) {
      EXPECT_EQ(v.error().rfind("invalid JSON at byte ", 0), 0u) << v.error();
    }
  }
}

TEST(Json, ErrorSaysWhereAndWhat) {
  auto v = parse_json("{\"a\": [1, 2,]}");
  ASSERT_FALSE(v.has_value());
  EXPECT_EQ(v.error(), "invalid JSON at byte 12: expected a value, found ']'");
  v = parse_json("{\"k\":1,\"k\":2}");
  ASSERT_FALSE(v.has_value());
  EXPECT_EQ(v.error(), "invalid JSON at byte 7: expected no duplicate member name ('k' appears twice), found '\"'");
}

TEST(Json, NestingIsBounded) {
  std::string deep(kJsonMaxDepth, '[');
  deep += std::string(kJsonMaxDepth, ']');
  EXPECT_TRUE(parse_json(deep).has_value());
  std::string deeper(kJsonMaxDepth + 1, '[');
  deeper += std::string(kJsonMaxDepth + 1, ']');
  EXPECT_FALSE(parse_json(deeper).has_value());
  // Far beyond the limit: an error, not a stack overflow.
  EXPECT_FALSE(parse_json(std::string(100000, '[')).has_value());
}

namespace {

Status sample_status() {
  Status s;
  s.system.mode = "synchronized";
  s.system.clock_control = "system clock";
  s.system.leap = 0;
  s.system.stratum = 2;
  s.system.refid = "198.18.1.1";
  s.system.system_peer = "198.18.1.1";
  s.system.root_delay_ms = 0.412;
  s.system.root_dispersion_ms = 7.25;
  s.system.offset_ms = -0.0213;
  s.system.frequency_ppm = -12.345;
  s.system.jitter_ms = 0.0081;
  s.system.poll_log2 = 6;
  s.system.uptime_s = 4000.5;
  s.system.version = "linetime \"0.1.0\"\t";
  SourceRow a;
  a.tally = '*';
  a.remote = "198.18.1.1";
  a.refid = ".GPS.";
  a.stratum = 1;
  a.when_s = 35;
  a.reach = 0377;
  a.delay_ms = 0.201;
  a.offset_ms = -0.0213;
  a.jitter_ms = 0.0081;
  a.state = "system-peer";
  a.sent = 9007199254740992ull;  // 2^53 still exact
  a.received = 120;
  a.bogus = 3;
  a.auth = "bad";
  a.unauthenticated = 1;
  a.crypto_nak = 0;
  a.bad_mac = 2;
  SourceRow b;
  b.tally = ' ';
  b.remote = "2001:db8::1";
  b.type = 'p';
  b.poll_log2 = -3;
  b.jitter_ms = NAN;  // written as null
  b.state = "no-sample";
  s.sources = {a, b};
  return s;
}

}  // namespace

TEST(StatusJson, RoundTrip) {
  const Status s = sample_status();
  auto back = status_from_json(to_json(s));
  ASSERT_TRUE(back.has_value()) << back.error();
  const SystemVars& v = back->system;
  EXPECT_EQ(v.mode, "synchronized");
  EXPECT_EQ(v.clock_control, "system clock");
  EXPECT_EQ(v.leap, 0);
  EXPECT_EQ(v.stratum, 2);
  EXPECT_EQ(v.refid, "198.18.1.1");
  EXPECT_EQ(v.system_peer, "198.18.1.1");
  EXPECT_EQ(v.precision_log2, -20);
  EXPECT_DOUBLE_EQ(v.root_delay_ms, 0.412);
  EXPECT_DOUBLE_EQ(v.root_dispersion_ms, 7.25);
  EXPECT_DOUBLE_EQ(v.offset_ms, -0.0213);
  EXPECT_DOUBLE_EQ(v.frequency_ppm, -12.345);
  EXPECT_DOUBLE_EQ(v.jitter_ms, 0.0081);
  EXPECT_EQ(v.poll_log2, 6);
  EXPECT_DOUBLE_EQ(v.uptime_s, 4000.5);
  EXPECT_EQ(v.version, "linetime \"0.1.0\"\t");
  ASSERT_EQ(back->sources.size(), 2u);
  const SourceRow& a = back->sources[0];
  EXPECT_EQ(a.tally, '*');
  EXPECT_EQ(a.remote, "198.18.1.1");
  EXPECT_EQ(a.refid, ".GPS.");
  EXPECT_EQ(a.stratum, 1);
  EXPECT_EQ(a.type, 'u');
  ASSERT_TRUE(a.when_s.has_value());
  EXPECT_EQ(*a.when_s, 35);
  EXPECT_EQ(a.poll_log2, 6);
  EXPECT_EQ(a.reach, 0377);
  EXPECT_DOUBLE_EQ(a.delay_ms, 0.201);
  EXPECT_EQ(a.state, "system-peer");
  EXPECT_EQ(a.sent, 9007199254740992ull);
  EXPECT_EQ(a.received, 120u);
  EXPECT_EQ(a.bogus, 3u);
  EXPECT_EQ(a.auth, "bad");
  EXPECT_EQ(a.unauthenticated, 1u);
  EXPECT_EQ(a.crypto_nak, 0u);
  EXPECT_EQ(a.bad_mac, 2u);
  const SourceRow& b = back->sources[1];
  EXPECT_EQ(b.tally, ' ');
  EXPECT_EQ(b.type, 'p');
  EXPECT_FALSE(b.when_s.has_value());
  EXPECT_EQ(b.poll_log2, -3);
  EXPECT_TRUE(std::isnan(b.jitter_ms));
  EXPECT_EQ(b.auth, "none");
  // What `peers --json` prints is to_json of what was read: stable.
  EXPECT_EQ(to_json(*back), to_json(s));
}

TEST(StatusJson, UnknownMembersIgnored) {
  std::string j = to_json(sample_status());
  j.insert(1, "\"future\":{\"x\":[1,2]},");
  EXPECT_TRUE(status_from_json(j).has_value());
}

TEST(StatusJson, MissingOrMistypedMembersNamed) {
  const std::string j = to_json(sample_status());
  auto replace = [&](const std::string& from, const std::string& to) {
    std::string s = j;
    s.replace(s.find(from), from.size(), to);
    return status_from_json(s);
  };
  auto r = replace("\"stratum\":2,", "");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error(), "status from linetime-control: system.stratum is missing");
  r = replace("\"stratum\":1,", "\"stratum\":\"1\",");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error(), "status from linetime-control: sources[0].stratum should be a number");
  r = replace("\"reach\":255", "\"reach\":256");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error(), "status from linetime-control: sources[0].reach should be an integer from 0 to 255");
  r = replace("\"tally\":\"*\"", "\"tally\":\"**\"");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error(), "status from linetime-control: sources[0].tally should be one character");
  r = replace("\"poll\":6", "\"poll\":6.5");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error(), "status from linetime-control: system.poll should be an integer from -128 to 127");
  EXPECT_FALSE(status_from_json("[]").has_value());
  EXPECT_EQ(status_from_json("error: unknown request").error().rfind("status from linetime-control: invalid JSON", 0), 0u);
}
