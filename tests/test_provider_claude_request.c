/*
 * tests/test_provider_claude_request.c: what the bundled claude provider
 * sends to a fake Anthropic API: every part of a request mapped to the
 * Messages API shape, the tool_choice and thinking variants, the requests it
 * refuses before sending, and the settings (and headers) it takes from the
 * environment when the config has none.
 *
 * Not here: what it makes of the replies (test_provider_claude.c,
 * test_provider_claude_failures.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "provider_cases.h"

/* ------------------------------------------------------------------------ */
/* Request mapping                                                           */

static const char FULL_REQUEST[] =
    "{\"model\":\"claude-sonnet-4-5\",\"system\":\"You are terse.\","
    "\"messages\":["
    "{\"role\":\"user\",\"content\":\"Read README.md\"},"
    "{\"role\":\"user\",\"content\":[{\"type\":\"text\","
    "\"text\":\"Quickly.\"}]},"
    "{\"role\":\"assistant\",\"content\":["
    "{\"type\":\"thinking\",\"text\":\"I should read it.\","
    "\"signature\":\"EqQBsig==\"},"
    "{\"type\":\"thinking\",\"text\":\"unsigned, from another provider\"},"
    "{\"type\":\"text\",\"text\":\"Reading it.\"},"
    "{\"type\":\"text\",\"text\":\"\"},"
    "{\"type\":\"tool_call\",\"id\":\"toolu_1\",\"name\":\"fs_read\","
    "\"arguments\":{\"path\":\"README.md\"}},"
    "{\"type\":\"tool_call\",\"id\":\"toolu_2\",\"name\":\"fs_stat\","
    "\"arguments\":{\"path\":\"x\"}}]},"
    "{\"role\":\"tool\",\"content\":[{\"type\":\"tool_result\","
    "\"tool_call_id\":\"toolu_1\",\"content\":\"# Portico\","
    "\"is_error\":false}]},"
    "{\"role\":\"tool\",\"content\":[{\"type\":\"tool_result\","
    "\"tool_call_id\":\"toolu_2\",\"content\":[{\"type\":\"text\","
    "\"text\":\"no such file\"}],\"is_error\":true}]},"
    "{\"role\":\"user\",\"content\":["
    "{\"type\":\"text\",\"text\":\"And this picture?\"},"
    "{\"type\":\"image\",\"media_type\":\"image/png\","
    "\"data\":\"iVBORw0KGgo=\"},"
    "{\"type\":\"image\",\"url\":\"https://example.com/cat.jpg\"},"
    "{\"type\":\"image\",\"url\":\"data:image/gif;base64,R0lGOD==\"}]}],"
    "\"tools\":[{\"name\":\"fs_read\",\"description\":\"Read a file.\","
    "\"input_schema\":{\"type\":\"object\",\"properties\":{\"path\":"
    "{\"type\":\"string\"}},\"required\":[\"path\"]}},{\"name\":\"fs_stat\"}],"
    "\"tool_choice\":\"required\",\"max_tokens\":1000,\"temperature\":0.5,"
    "\"top_p\":0.9,\"stop\":[\"\\n\\nHuman:\",\"END\"],"
    "\"extra\":{\"metadata\":{\"user_id\":\"u-42\"},\"top_k\":5,"
    "\"temperature\":0.25}}";

static const char FULL_BODY[] =
    "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":1000,"
    "\"system\":\"You are terse.\",\"messages\":["
    "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":"
    "\"Read README.md\"},{\"type\":\"text\",\"text\":\"Quickly.\"}]},"
    "{\"role\":\"assistant\",\"content\":["
    "{\"type\":\"thinking\",\"thinking\":\"I should read it.\","
    "\"signature\":\"EqQBsig==\"},"
    "{\"type\":\"text\",\"text\":\"Reading it.\"},"
    "{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"fs_read\","
    "\"input\":{\"path\":\"README.md\"}},"
    "{\"type\":\"tool_use\",\"id\":\"toolu_2\",\"name\":\"fs_stat\","
    "\"input\":{\"path\":\"x\"}}]},"
    "{\"role\":\"user\",\"content\":["
    "{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_1\","
    "\"content\":\"# Portico\",\"is_error\":false},"
    "{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_2\",\"content\":"
    "[{\"type\":\"text\",\"text\":\"no such file\"}],\"is_error\":true},"
    "{\"type\":\"text\",\"text\":\"And this picture?\"},"
    "{\"type\":\"image\",\"source\":{\"type\":\"base64\",\"media_type\":"
    "\"image/png\",\"data\":\"iVBORw0KGgo=\"}},"
    "{\"type\":\"image\",\"source\":{\"type\":\"url\",\"url\":"
    "\"https://example.com/cat.jpg\"}},"
    "{\"type\":\"image\",\"source\":{\"type\":\"base64\",\"media_type\":"
    "\"image/gif\",\"data\":\"R0lGOD==\"}}]}],"
    "\"tools\":[{\"name\":\"fs_read\",\"description\":\"Read a file.\","
    "\"input_schema\":{\"type\":\"object\",\"properties\":{\"path\":"
    "{\"type\":\"string\"}},\"required\":[\"path\"]}},"
    "{\"name\":\"fs_stat\",\"input_schema\":{\"type\":\"object\","
    "\"properties\":{}}}],"
    "\"tool_choice\":{\"type\":\"any\"},\"temperature\":0.25,\"top_p\":0.9,"
    "\"stop_sequences\":[\"\\n\\nHuman:\",\"END\"],\"stream\":true,"
    "\"metadata\":{\"user_id\":\"u-42\"},\"top_k\":5}";

static void the_request_maps_to_the_messages_api_shape(void)
{
  pv_claude e;
  pv_claude_start(&e, NULL);
  fake_anthropic_push(e.fa, pv_claude_reply_text, NULL);
  pv_chat r;
  pv_claude_chat(&e, FULL_REQUEST, &r);
  CHECK_INT(r.status, ==, PT_OK);
  const fake_anthropic_request *req = fake_anthropic_request_at(e.fa, 0);
  CHECK(req != NULL);
  if (req) PV_CHECK_JSON(req->body, FULL_BODY);
  pv_claude_stop(&e);
}

static void tool_choice_and_thinking_variants_map(void)
{
  static const struct { const char *fields, *member, *want; } cases[] = {
    { "\"tool_choice\":\"auto\"", "tool_choice", "{\"type\":\"auto\"}" },
    { "\"tool_choice\":\"none\"", "tool_choice", "{\"type\":\"none\"}" },
    { "\"tool_choice\":\"required\"", "tool_choice", "{\"type\":\"any\"}" },
    { "\"tool_choice\":{\"name\":\"fs_read\"}", "tool_choice",
      "{\"type\":\"tool\",\"name\":\"fs_read\"}" },
    { "\"thinking\":{\"effort\":\"low\"}", "thinking",
      "{\"type\":\"enabled\",\"budget_tokens\":1024}" },
    { "\"thinking\":{\"effort\":\"low\"}", "max_tokens", "5120" },
    { "\"thinking\":{\"effort\":\"medium\"}", "thinking",
      "{\"type\":\"enabled\",\"budget_tokens\":4096}" },
    { "\"thinking\":{\"effort\":\"high\",\"budget_tokens\":3000},"
      "\"max_tokens\":8000", "thinking",
      "{\"type\":\"enabled\",\"budget_tokens\":3000}" },
    { "\"thinking\":{\"budget_tokens\":3000},\"max_tokens\":8000",
      "max_tokens", "8000" },
    { "\"stop\":\"###\"", "stop_sequences", "[\"###\"]" },
    { "\"system\":\"\"", "system", "null" },
  };
  pv_claude e;
  pv_claude_start(&e, NULL);
  fake_anthropic_push(e.fa, pv_claude_reply_text, NULL);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char req[1024];
    snprintf(req, sizeof req,
             "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
             "\"x\"}],\"tools\":[{\"name\":\"fs_read\"}],%s}",
             cases[i].fields);
    pv_chat r;
    pv_claude_chat(&e, req, &r);
    cJSON *body = pv_claude_body(&e, i);
    PV_CHECK_MEMBER(body, cases[i].member, cases[i].want);
    cJSON_Delete(body);
  }
  pv_claude_stop(&e);
}

static void a_request_the_api_cannot_take_is_refused_before_sending(void)
{
  static const char *const bad[] = {
    "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
    "\"tool_choice\":\"sometimes\"}",
    "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
    "[{\"type\":\"image\"}]}]}",
    "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
    "[{\"type\":\"video\"}]}]}",
    "{\"messages\":[]}",
  };
  pv_claude e;
  pv_claude_start(&e, NULL);
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    pv_chat r = { 0 };
    pt_op_sink sink = { .on_event = pv_on_event, .ud = &r };
    CHECK_INT(pt_op_chat(e.f.k, "claude", (pt_str){ bad[i], strlen(bad[i]) },
                         NULL, &sink, NULL), ==, PT_EINVAL);
    pt_kernel_spin(e.f.k, 10);
    CHECK_INT(r.done, ==, 0);
  }
  CHECK_INT(fake_anthropic_request_count(e.fa), ==, 0);
  pv_claude_stop(&e);
}

/* ------------------------------------------------------------------------ */
/* Settings                                                                  */

static const char *const NO_KEY[] = {
  "401", "authentication_error", "x-api-key header is required", NULL
};

static void settings_fall_back_to_the_environment(void)
{
  fake_anthropic *probe = fake_anthropic_start();
  setenv("ANTHROPIC_BASE_URL", fake_anthropic_url(probe), 1);
  setenv("ANTHROPIC_API_KEY", "sk-ant-from-env-42", 1);
  pv_claude e;
  /* The fake the environment names is `probe`; e.fa stays unused. */
  pv_claude_start(&e, "anthropic_version = '2024-01-01', "
                      "anthropic_beta = 'interleaved-thinking-2025-05-14'");
  fake_anthropic_push(probe, pv_claude_reply_text, "env");
  pv_chat r;
  pv_claude_chat(&e, PV_CLAUDE_HELLO, &r);
  CHECK_STR(r.text, "env");
  const fake_anthropic_request *req = fake_anthropic_request_at(probe, 0);
  CHECK(req != NULL);
  CHECK_STR(fake_anthropic_header(req, "x-api-key"), "sk-ant-from-env-42");
  CHECK_STR(fake_anthropic_header(req, "anthropic-version"), "2024-01-01");
  CHECK_STR(fake_anthropic_header(req, "anthropic-beta"),
            "interleaved-thinking-2025-05-14");
  pv_claude_stop(&e);

  /* No key anywhere: no x-api-key header, and the message says where. */
  unsetenv("ANTHROPIC_API_KEY");
  pv_claude_start(&e, "backoff_base_ms = 5");
  fake_anthropic_push(probe, pv_claude_reply_error, (void *)NO_KEY);
  pv_claude_chat(&e, PV_CLAUDE_HELLO, &r);
  req = fake_anthropic_request_at(probe, 1);
  CHECK(req != NULL && fake_anthropic_header(req, "x-api-key") == NULL);
  CHECK_INT(r.status, ==, PT_EPERM);
  CHECK_CONTAINS(r.message, "no Anthropic API key is set");
  CHECK_CONTAINS(r.message, "ANTHROPIC_API_KEY");
  pv_claude_stop(&e);
  unsetenv("ANTHROPIC_BASE_URL");
  fake_anthropic_stop(probe);
}

int main(void)
{
  pv_init("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", NULL);
  RUN(the_request_maps_to_the_messages_api_shape);
  RUN(tool_choice_and_thinking_variants_map);
  RUN(a_request_the_api_cannot_take_is_refused_before_sending);
  RUN(settings_fall_back_to_the_environment);
  return check_report();
}
