/*
 * tests/test_provider_ollama_request.c: what the bundled ollama.so sends to
 * a fake Ollama server and where: every part of a request mapped to
 * /api/chat's fields, tool_choice and thinking levels, the requests it
 * refuses before sending, OLLAMA_HOST as the server, and model listing from
 * /api/tags (and what it says when no server answers).
 *
 * Not here: what it makes of chat replies (test_provider_ollama.c,
 * test_provider_ollama_failures.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "provider_cases.h"

/* ------------------------------------------------------------------------ */
/* Request mapping                                                           */

static void the_request_maps_every_part_to_ollamas_fields(void)
{
  pv_ollama e;
  pv_ollama_start(&e, pv_ollama_reply_hello, NULL, "num_ctx = 8192");
  const char *req =
      "{\"model\":\"llava\",\"system\":\"Be brief.\",\"messages\":["
      "{\"role\":\"user\",\"content\":\"Read README.md\"},"
      "{\"role\":\"assistant\",\"content\":["
      "{\"type\":\"thinking\",\"text\":\"I should read it.\","
      "\"signature\":\"EqQB\"},"
      "{\"type\":\"text\",\"text\":\"Reading it.\"},"
      "{\"type\":\"tool_call\",\"id\":\"call_1\",\"name\":\"fs_read\","
      "\"arguments\":{\"path\":\"README.md\"}},"
      "{\"type\":\"tool_call\",\"id\":\"call_2\",\"name\":\"fs_stat\","
      "\"arguments\":{\"path\":\"README.md\"}}]},"
      "{\"role\":\"tool\",\"content\":["
      "{\"type\":\"tool_result\",\"tool_call_id\":\"call_1\","
      "\"content\":\"# Portico\",\"is_error\":false},"
      "{\"type\":\"tool_result\",\"tool_call_id\":\"call_2\","
      "\"content\":[{\"type\":\"text\",\"text\":\"no such file\"}],"
      "\"is_error\":true}]},"
      "{\"role\":\"user\",\"content\":["
      "{\"type\":\"text\",\"text\":\"And this picture?\"},"
      "{\"type\":\"image\",\"media_type\":\"image/png\","
      "\"data\":\"iVBORw0KGgo=\"},"
      "{\"type\":\"image\",\"url\":\"data:image/jpeg;base64,/9j/4AAQ\"}]}],"
      "\"tools\":[{\"name\":\"fs_read\",\"description\":\"Read a file.\","
      "\"input_schema\":{\"type\":\"object\",\"properties\":{\"path\":"
      "{\"type\":\"string\"}},\"required\":[\"path\"]}},"
      "{\"name\":\"fs_stat\",\"description\":\"Stat a file.\","
      "\"input_schema\":{\"type\":\"object\",\"properties\":{\"path\":"
      "{\"type\":\"string\"}}}}],"
      "\"tool_choice\":\"auto\",\"max_tokens\":512,\"temperature\":0.2,"
      "\"top_p\":0.9,\"stop\":[\"\\n\\nUser:\"],"
      "\"thinking\":{\"effort\":\"medium\",\"budget_tokens\":2048},"
      "\"extra\":{\"keep_alive\":\"10m\",\"format\":\"json\","
      "\"options\":{\"seed\":42,\"temperature\":0.3}}}";
  const char *want =
      "{\"model\":\"llava\",\"messages\":["
      "{\"role\":\"system\",\"content\":\"Be brief.\"},"
      "{\"role\":\"user\",\"content\":\"Read README.md\"},"
      "{\"role\":\"assistant\",\"content\":\"Reading it.\","
      "\"thinking\":\"I should read it.\",\"tool_calls\":["
      "{\"function\":{\"name\":\"fs_read\",\"arguments\":{\"path\":"
      "\"README.md\"}}},"
      "{\"function\":{\"name\":\"fs_stat\",\"arguments\":{\"path\":"
      "\"README.md\"}}}]},"
      "{\"role\":\"tool\",\"content\":\"# Portico\",\"tool_name\":"
      "\"fs_read\"},"
      "{\"role\":\"tool\",\"content\":\"Error: no such file\","
      "\"tool_name\":\"fs_stat\"},"
      "{\"role\":\"user\",\"content\":\"And this picture?\","
      "\"images\":[\"iVBORw0KGgo=\",\"/9j/4AAQ\"]}],"
      "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"fs_read\","
      "\"description\":\"Read a file.\",\"parameters\":{\"type\":\"object\","
      "\"properties\":{\"path\":{\"type\":\"string\"}},\"required\":"
      "[\"path\"]}}},"
      "{\"type\":\"function\",\"function\":{\"name\":\"fs_stat\","
      "\"description\":\"Stat a file.\",\"parameters\":{\"type\":\"object\","
      "\"properties\":{\"path\":{\"type\":\"string\"}}}}}],"
      "\"stream\":true,"
      "\"options\":{\"temperature\":0.3,\"top_p\":0.9,\"stop\":"
      "[\"\\n\\nUser:\"],\"num_predict\":512,\"num_ctx\":8192,\"seed\":42},"
      "\"think\":true,\"keep_alive\":\"10m\",\"format\":\"json\"}";
  pv_chat r;
  pv_ollama_chat(&e, req, &r);
  CHECK_INT(r.status, ==, PT_OK);
  fake_ollama_seen s;
  CHECK(fake_ollama_seen_get(e.srv, 0, &s));
  PV_CHECK_JSON(s.body, want);
  CHECK_STR(fake_ollama_seen_header(&s, "Content-Type"), "application/json");
  CHECK_STR(fake_ollama_seen_header(&s, "Accept"), "application/x-ndjson");
  fake_ollama_seen_free(&s);
  pv_ollama_stop(&e);
}

/* The "tools" names the n-th request offered, comma-separated. */
static void offered_tools(pv_ollama *e, size_t n, char *out, size_t size)
{
  fake_ollama_seen s;
  cJSON *body = pv_ollama_body(e, n, &s);
  const cJSON *t;
  out[0] = '\0';
  cJSON_ArrayForEach(t, cJSON_GetObjectItem(body, "tools")) {
    const char *name = cJSON_GetStringValue(
        cJSON_GetObjectItem(cJSON_GetObjectItem(t, "function"), "name"));
    snprintf(out + strlen(out), size - strlen(out), "%s%s", out[0] ? "," : "",
             name);
  }
  if (!cJSON_GetObjectItem(body, "tools")) snprintf(out, size, "(none)");
  cJSON_Delete(body);
  fake_ollama_seen_free(&s);
}

static void tool_choice_and_thinking_levels_map_to_what_ollama_takes(void)
{
  pv_ollama e;
  pv_ollama_start(&e, pv_ollama_reply_hello, NULL, NULL);
  char req[1024], names[128];
  const char *choices[] = { "\"none\"", "\"required\"",
                            "{\"name\":\"fs_stat\"}" };
  const char *want[] = { "(none)", "fs_read,fs_stat", "fs_stat" };
  pv_chat r;
  for (int i = 0; i < 3; i++) {
    snprintf(req, sizeof req,
             "{\"model\":\"gpt-oss:20b\",\"messages\":[{\"role\":\"user\","
             "\"content\":\"x\"}],\"tools\":[{\"name\":\"fs_read\","
             "\"input_schema\":{\"type\":\"object\"}},{\"name\":\"fs_stat\"}],"
             "\"tool_choice\":%s,\"thinking\":{\"effort\":\"high\"}}",
             choices[i]);
    pv_ollama_chat(&e, req, &r);
    CHECK_INT(r.status, ==, PT_OK);
    offered_tools(&e, (size_t)i, names, sizeof names);
    CHECK_STR(names, want[i]);
  }
  fake_ollama_seen s;
  cJSON *body = pv_ollama_body(&e, 0, &s);
  CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(body, "think")), "high");
  CHECK(cJSON_GetObjectItem(body, "options") == NULL);
  cJSON_Delete(body);
  fake_ollama_seen_free(&s);

  pv_ollama_chat(&e, "{\"model\":\"m\",\"messages\":[],\"tools\":[{\"name\":"
                     "\"fs_read\"}],\"tool_choice\":{\"name\":\"fs_write\"}}",
                 &r);
  CHECK_INT(r.status, ==, PT_EINVAL);
  CHECK_CONTAINS(r.message, "fs_write");
  CHECK_INT(fake_ollama_chat_count(e.srv), ==, 3);
  pv_ollama_stop(&e);
}

static void an_image_by_url_is_refused_before_anything_is_sent(void)
{
  pv_ollama e;
  pv_ollama_start(&e, pv_ollama_reply_hello, NULL, NULL);
  pv_chat r;
  pv_ollama_chat(&e, "{\"model\":\"llava\",\"messages\":[{\"role\":\"user\","
                     "\"content\":[{\"type\":\"image\",\"url\":"
                     "\"https://example.com/cat.jpg\"}]}]}",
                 &r);
  CHECK_INT(r.status, ==, PT_EINVAL);
  CHECK_INT(r.stop, ==, PT_STOP_ERROR);
  CHECK_CONTAINS(r.message, "https://example.com/cat.jpg");
  CHECK_CONTAINS(r.message, "base64");
  pv_ollama_chat(&e, "not json", &r);
  CHECK_INT(r.status, ==, PT_EINVAL);
  CHECK_CONTAINS(r.message, "not a JSON object");
  CHECK_INT(fake_ollama_chat_count(e.srv), ==, 0);
  pv_ollama_stop(&e);
}

/* ------------------------------------------------------------------------ */
/* The server and its models                                                 */

static void ollama_host_without_a_scheme_is_used_when_base_url_is_unset(void)
{
  pv_ollama e;
  /* Boot with the variable pointing at the fake; the fake starts first. */
  fake_ollama *srv = fake_ollama_start(pv_ollama_reply_hello, NULL);
  char host[64];
  snprintf(host, sizeof host, "127.0.0.1:%d", fake_ollama_port(srv));
  setenv("OLLAMA_HOST", host, 1);
  e.srv = srv;
  pv_kernel_start(&e.f, "ollama.so", "return {}\n");
  pv_chat r;
  pv_ollama_chat(&e, PV_OLLAMA_SIMPLE, &r);
  CHECK_INT(r.status, ==, PT_OK);
  CHECK_STR(r.text, "Hello");
  unsetenv("OLLAMA_HOST");
  pv_ollama_stop(&e);
}

static void listing_models_reads_api_tags(void)
{
  pv_ollama e;
  pv_ollama_start(&e, pv_ollama_reply_hello, NULL, NULL);
  fake_ollama_set_tags(
      e.srv,
      "{\"models\":[{\"name\":\"llama3.2:latest\",\"model\":"
      "\"llama3.2:latest\",\"modified_at\":\"2025-05-04T17:37:44.706015396-07:"
      "00\",\"size\":2019393189,\"digest\":\"a80c4f17acd5\",\"details\":{"
      "\"parent_model\":\"\",\"format\":\"gguf\",\"family\":\"llama\","
      "\"families\":[\"llama\"],\"parameter_size\":\"3.2B\","
      "\"quantization_level\":\"Q4_K_M\"}},{\"name\":\"qwen3:8b\",\"model\":"
      "\"qwen3:8b\",\"size\":5225388164,\"details\":{\"family\":\"qwen3\"}}]}");
  h_tool t;
  pv_list_models(e.f.k, "ollama", &t);
  CHECK_INT(t.done, ==, 1);
  CHECK_INT(t.status, ==, PT_OK);
  PV_CHECK_JSON(t.result,
                "[{\"id\":\"llama3.2:latest\",\"size\":2019393189,"
                "\"family\":\"llama\",\"parameter_size\":\"3.2B\","
                "\"quantization_level\":\"Q4_K_M\"},{\"id\":\"qwen3:8b\","
                "\"size\":5225388164,\"family\":\"qwen3\"}]");
  fake_ollama_seen s;
  CHECK(fake_ollama_seen_get(e.srv, 0, &s));
  CHECK_STR(s.method, "GET");
  CHECK_STR(s.path, "/api/tags");
  fake_ollama_seen_free(&s);
  pv_ollama_stop(&e);
}

static void listing_models_without_a_server_says_how_to_start_one(void)
{
  fake_http_dead *dead = fake_http_dead_refusing();
  char lua[256];
  snprintf(lua, sizeof lua,
           "return { plugins = { ollama = { base_url = "
           "'http://127.0.0.1:%d' } } }\n",
           fake_http_dead_port(dead));
  h_fixture f;
  pv_kernel_start(&f, "ollama.so", lua);
  h_tool t;
  pv_list_models(f.k, "ollama", &t);
  CHECK_INT(t.done, ==, 1);
  CHECK_INT(t.status, ==, PT_ECONNECT);
  CHECK_CONTAINS(t.result, "ollama serve");
  CHECK_CONTAINS(t.result, "OLLAMA_HOST");
  h_fixture_stop(&f);
  fake_http_dead_close(dead);
}

int main(void)
{
  pv_init("OLLAMA_HOST", "OLLAMA_API_KEY", NULL);
  RUN(the_request_maps_every_part_to_ollamas_fields);
  RUN(tool_choice_and_thinking_levels_map_to_what_ollama_takes);
  RUN(an_image_by_url_is_refused_before_anything_is_sent);
  RUN(ollama_host_without_a_scheme_is_used_when_base_url_is_unset);
  RUN(listing_models_reads_api_tags);
  RUN(listing_models_without_a_server_says_how_to_start_one);
  return check_report();
}
