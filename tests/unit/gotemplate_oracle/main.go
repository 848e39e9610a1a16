// Command gotemplate_oracle runs templates with Go's own text/template, so the unit
// tests can check hull's Python port (src/hull/cli/gotemplate) against the real thing.
//
// It reads one JSON request per line on stdin and writes one JSON response per line:
//
//	{"template": T, "data": D, "missingkey": "error"}   -> {"out": ..., "err": ...}
//	{"format": F, "rows": [D...], "header": {...}}      -> {"out": ..., "err": ...}
//
// The first executes T on D with template.New("").Funcs(<Docker's functions>), as the
// docker CLI does (out holds what was written before an error). The second lays rows out
// as docker/cli's formatter.Context does for a listing command's --format F.
//
// JSON numbers are decoded as int when they are integers and float64 otherwise, matching
// the Python values (json.loads) the tests give hull's engine. Docker's template functions
// below are re-implemented the way docker/cli's templates package defines them; standard
// library only, built with GO111MODULE=off.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"
	"text/tabwriter"
	"text/template"
)

// basicFunctions: docker/cli templates.basicFunctions.
var basicFunctions = template.FuncMap{
	"json":     formatJSON,
	"split":    strings.Split,
	"join":     joinElements,
	"title":    strings.Title,
	"lower":    strings.ToLower,
	"upper":    strings.ToUpper,
	"pad":      padWithSpace,
	"truncate": truncateWithLength,
}

// headerFunctions: docker/cli templates.HeaderFunctions (pad is not replaced).
var headerFunctions = template.FuncMap{
	"json":     func(v string) string { return v },
	"split":    func(v string, _ string) string { return v },
	"join":     func(v string, _ string) string { return v },
	"title":    func(v string) string { return v },
	"lower":    func(v string) string { return v },
	"upper":    func(v string) string { return v },
	"truncate": func(v string, _ int) string { return v },
}

func padWithSpace(source string, prefix, suffix int) string {
	if source == "" {
		return source
	}
	return strings.Repeat(" ", prefix) + source + strings.Repeat(" ", suffix)
}

func truncateWithLength(source string, length int) string {
	if len(source) < length {
		return source
	}
	return source[:length]
}

func formatJSON(v interface{}) string {
	buf := &bytes.Buffer{}
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(err)
	}
	return strings.TrimSpace(buf.String())
}

func joinElements(elems interface{}, sep string) (string, error) {
	if elems == nil {
		return "", nil
	}
	if ss, ok := elems.([]string); ok {
		return strings.Join(ss, sep), nil
	}
	switch rv := reflect.ValueOf(elems); rv.Kind() {
	case reflect.Array, reflect.Slice:
		var b strings.Builder
		for i := 0; i < rv.Len(); i++ {
			if i > 0 {
				b.WriteString(sep)
			}
			fmt.Fprint(&b, rv.Index(i).Interface())
		}
		return b.String(), nil
	case reflect.Map:
		var out []string
		for _, k := range rv.MapKeys() {
			out = append(out, fmt.Sprint(rv.MapIndex(k).Interface()))
		}
		sort.Strings(out)
		return strings.Join(out, sep), nil
	default:
		return "", fmt.Errorf("expected slice, got %T", elems)
	}
}

type request struct {
	Template   string            `json:"template"`
	Data       json.RawMessage   `json:"data"`
	MissingKey string            `json:"missingkey"`
	Format     *string           `json:"format"`
	Rows       []json.RawMessage `json:"rows"`
	Header     map[string]string `json:"header"`
}

type response struct {
	Out string `json:"out"`
	Err string `json:"err"`
}

// decode turns JSON into Go values the way the Python side sees them: integers as int.
func decode(raw json.RawMessage) interface{} {
	if len(raw) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v interface{}
	if err := dec.Decode(&v); err != nil {
		panic(err)
	}
	return numbers(v)
}

func numbers(v interface{}) interface{} {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil && !strings.ContainsAny(string(x), ".eE") {
			return int(i)
		}
		f, _ := x.Float64()
		return f
	case []interface{}:
		for i := range x {
			x[i] = numbers(x[i])
		}
	case map[string]interface{}:
		for k := range x {
			x[k] = numbers(x[k])
		}
	}
	return v
}

func execute(req request) (out string, errText string) {
	tmpl, err := template.New("").Funcs(basicFunctions).Parse(req.Template)
	if err != nil {
		return "", err.Error()
	}
	if req.MissingKey != "" {
		tmpl.Option("missingkey=" + req.MissingKey)
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, decode(req.Data)); err != nil {
		return buf.String(), err.Error()
	}
	return buf.String(), ""
}

// templateString: docker/cli formatter.Format.templateString.
func templateString(f string) (string, bool) {
	isTable := strings.HasPrefix(f, "table")
	switch f {
	case "table":
		return "", true
	case "json":
		return "{{json .}}", false
	}
	out := f
	if isTable {
		out = out[len("table"):]
	}
	out = strings.Trim(out, " ")
	out = strings.NewReplacer(`\t`, "\t", `\n`, "\n").Replace(out)
	return out, isTable
}

// formatRows: docker/cli formatter.Context.Write with the given rows and header map.
func formatRows(req request) (string, string) {
	text, isTable := templateString(*req.Format)
	tmpl, err := template.New("").Funcs(basicFunctions).Parse(text)
	if err != nil {
		return "", "template parsing error: " + err.Error()
	}
	buffer := &bytes.Buffer{}
	for _, row := range req.Rows {
		if err := tmpl.Execute(buffer, decode(row)); err != nil {
			return "", "template parsing error: " + err.Error()
		}
		buffer.WriteString("\n")
	}
	out := &bytes.Buffer{}
	if !isTable {
		buffer.WriteTo(out)
		return out.String(), ""
	}
	tw := tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)
	_ = tmpl.Funcs(headerFunctions).Execute(tw, req.Header)
	tw.Write([]byte{'\n'})
	buffer.WriteTo(tw)
	tw.Flush()
	return out.String(), ""
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 64<<20)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	enc := json.NewEncoder(out)
	for in.Scan() {
		var req request
		if err := json.Unmarshal(in.Bytes(), &req); err != nil {
			fmt.Fprintln(os.Stderr, "bad request:", err)
			os.Exit(2)
		}
		var resp response
		if req.Format != nil {
			resp.Out, resp.Err = formatRows(req)
		} else {
			resp.Out, resp.Err = execute(req)
		}
		if err := enc.Encode(resp); err != nil {
			fmt.Fprintln(os.Stderr, "encode:", err)
			os.Exit(2)
		}
	}
}
