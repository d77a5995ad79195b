#include "qdit/load/report.h"

#include <algorithm>
#include <cstdio>

namespace qdit::load {

namespace {

nlohmann::json shape_json(const Shape& s) {
  nlohmann::json a = nlohmann::json::array();
  for (int64_t d : s) a.push_back(d);
  return a;
}

std::string scheme_label(const LinearPlan& lp) { return lp.scheme ? scheme_name(*lp.scheme) : "UNRESOLVED"; }

std::string stored_shapes(const LinearPlan& lp) {
  std::string out;
  for (const auto& s : lp.shards) out += (out.empty() ? "" : "+") + (s.weight_shape.empty() ? "?" : shape_str(s.weight_shape));
  return out;
}

std::string padded(const std::string& s, size_t width) { return s.size() >= width ? s : s + std::string(width - s.size(), ' '); }

std::string human_bytes(uint64_t b) {
  char buf[32];
  if (b >= (1ull << 30))
    std::snprintf(buf, sizeof buf, "%.2f GiB", b / double(1ull << 30));
  else if (b >= (1ull << 20))
    std::snprintf(buf, sizeof buf, "%.2f MiB", b / double(1ull << 20));
  else if (b >= (1ull << 10))
    std::snprintf(buf, sizeof buf, "%.2f KiB", b / double(1ull << 10));
  else
    std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(b));
  return buf;
}

}  // namespace

PlanSummary summarize(const ComponentPlan& plan) {
  PlanSummary s;
  for (const auto& lp : plan.linears) {
    ++s.layers_per_scheme[scheme_label(lp)];
    if (lp.scheme == SchemeId::Float) s.float_layers.push_back(lp.runtime);
  }
  for (const auto& p : plan.params)
    if (p.tensor) ++s.float_params;
  if (plan.store) {
    for (const auto& f : plan.store->files())
      for (const auto& t : f->tensors()) {
        s.bytes_per_dtype[std::string(dtype_name(t.dtype))] += t.end - t.begin;
        ++s.tensors;
      }
  }
  return s;
}

nlohmann::json plan_to_json(const ComponentPlan& plan) {
  nlohmann::json c;
  c["name"] = plan.files.name;
  c["path"] = plan.files.dir;
  c["layout"] = layout_name(plan.files.layout);
  c["architecture"] = "wan";
  c["variant"] = plan.config_ok ? nlohmann::json(plan.config.variant) : nlohmann::json(nullptr);
  c["checkpoint_namespace"] = plan.checkpoint_namespace;
  c["description"] = plan.files.description_file.empty() ? nlohmann::json(nullptr) : nlohmann::json(plan.files.description_file);
  c["description_namespace"] = plan.description_namespace;

  nlohmann::json layers = nlohmann::json::array();
  for (const auto& lp : plan.linears) {
    nlohmann::json l;
    l["name"] = lp.runtime;
    l["canonical"] = lp.canonical_names();
    l["checkpoint"] = lp.checkpoint_names();
    l["scheme"] = lp.scheme ? nlohmann::json(scheme_name(*lp.scheme)) : nlohmann::json(nullptr);
    l["type"] = lp.type_string;
    l["weight_dtype"] = lp.shards.front().weight_shape.empty()
                            ? nlohmann::json(nullptr)
                            : nlohmann::json(std::string(dtype_name(lp.shards.front().weight_dtype)));
    l["weight_shape"] = shape_json({lp.out_features, lp.in_features});
    l["out_features"] = lp.out_features;
    l["in_features"] = lp.in_features;
    l["bias_folded"] = lp.bias_folded;
    nlohmann::json shards = nlohmann::json::array();
    for (const auto& s : lp.shards) {
      nlohmann::json sj;
      sj["canonical"] = s.canonical;
      sj["checkpoint"] = s.checkpoint;
      sj["type"] = s.type_string;
      nlohmann::json tensors = nlohmann::json::array();
      for (const auto& p : s.params) {
        if (!p.tensor) continue;
        tensors.push_back({{"suffix", std::string(p.spec->suffix)},
                           {"name", p.tensor->name},
                           {"dtype", std::string(dtype_name(p.tensor->info().dtype))},
                           {"shape", shape_json(p.tensor->info().shape)}});
      }
      sj["tensors"] = std::move(tensors);
      shards.push_back(std::move(sj));
    }
    l["shards"] = std::move(shards);
    layers.push_back(std::move(l));
  }
  c["layers"] = std::move(layers);

  PlanSummary s = summarize(plan);
  c["summary"] = {{"layers_per_scheme", s.layers_per_scheme},
                  {"bytes_per_dtype", s.bytes_per_dtype},
                  {"float_layers", s.float_layers},
                  {"float_params", s.float_params},
                  {"tensors", s.tensors}};

  nlohmann::json problems = nlohmann::json::array();
  for (const auto& p : plan.problems) {
    nlohmann::json pj;
    pj["severity"] = severity_name(p.severity);
    pj["message"] = p.text();
    pj["tensor"] = p.where.tensor.empty() ? p.where.canonical : p.where.tensor;
    pj["canonical"] = p.where.canonical;
    pj["file"] = p.where.file;
    pj["layer"] = p.where.layer;
    pj["scheme"] = p.where.scheme;
    pj["expected"] = p.where.expected;
    pj["found"] = p.where.found;
    problems.push_back(std::move(pj));
  }
  c["problems"] = std::move(problems);
  c["ok"] = plan.ok();
  return c;
}

nlohmann::json plans_to_json(const std::vector<ComponentPlan>& plans) {
  nlohmann::json out;
  bool ok = true;
  nlohmann::json comps = nlohmann::json::array();
  for (const auto& p : plans) {
    ok = ok && p.ok();
    comps.push_back(plan_to_json(p));
  }
  out["ok"] = ok;
  out["components"] = std::move(comps);
  return out;
}

std::string plan_to_text(const ComponentPlan& plan) {
  std::string out;
  out += "component " + plan.files.name + "  (" + plan.files.dir + ", " + layout_name(plan.files.layout) + ")\n";
  out += "  architecture wan, variant " + (plan.config_ok ? plan.config.variant : std::string("?")) +
         ", names " + (plan.checkpoint_namespace.empty() ? std::string("?") : plan.checkpoint_namespace);
  if (!plan.files.description_file.empty())
    out += ", description " + plan.files.description_file + " (" + plan.description_namespace + " names)";
  else
    out += ", no description (all layers FLOAT)";
  out += "\n";

  if (!plan.linears.empty()) {
    size_t wn = 4, wc = 9, wk = 10, ws = 6;
    for (const auto& lp : plan.linears) {
      wn = std::max(wn, lp.runtime.size());
      wc = std::max(wc, lp.canonical_names().size());
      wk = std::max(wk, lp.checkpoint_names().size());
      ws = std::max(ws, scheme_label(lp).size());
    }
    auto row = [&](const std::string& a, const std::string& b, const std::string& c, const std::string& d,
                   const std::string& e) {
      out += "  " + padded(a, wn) + "  " + padded(b, wc) + "  " + padded(c, wk) + "  " + padded(d, ws) + "  " + e + "\n";
    };
    row("qdit", "canonical", "checkpoint", "scheme", "weight");
    for (const auto& lp : plan.linears) {
      std::string weight = lp.shards.front().weight_shape.empty()
                               ? std::string("missing")
                               : std::string(dtype_name(lp.shards.front().weight_dtype)) + " " + stored_shapes(lp);
      if (lp.bias_folded) weight += "  (float bias folded into quant_bias)";
      row(lp.runtime, lp.canonical_names(), lp.checkpoint_names(), scheme_label(lp), weight);
    }
  }

  PlanSummary s = summarize(plan);
  out += "  summary: " + std::to_string(plan.linears.size()) + " linear layers (";
  bool first = true;
  for (const auto& [k, v] : s.layers_per_scheme) {
    out += (first ? "" : ", ") + std::to_string(v) + " " + k;
    first = false;
  }
  out += "), " + std::to_string(s.tensors) + " tensors\n";
  out += "  bytes:";
  for (const auto& [k, v] : s.bytes_per_dtype) out += " " + k + " " + human_bytes(v) + ";";
  out += "\n  stays float: " + std::to_string(s.float_params) + " norm/modulation parameters";
  if (!s.float_layers.empty()) {
    out += ", linears";
    size_t shown = 0;
    for (const auto& n : s.float_layers) {
      if (shown++ == 12) {
        out += " ... (" + std::to_string(s.float_layers.size()) + " in all)";
        break;
      }
      out += " " + n;
    }
  }
  out += "\n";
  out += "  problems: " + std::to_string(plan.error_count()) + " error(s), " + std::to_string(plan.warning_count()) +
         " warning(s)\n";
  for (const auto& p : plan.problems) out += std::string("  ") + severity_name(p.severity) + ": " + p.text() + "\n";
  return out;
}

std::string plans_to_text(const std::vector<ComponentPlan>& plans) {
  std::string out;
  for (size_t i = 0; i < plans.size(); ++i) {
    if (i) out += "\n";
    out += plan_to_text(plans[i]);
  }
  return out;
}

}  // namespace qdit::load
