using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Thaw.Cli.Commands;

/// <summary>thawd's JSON replies as people read them: sizes in MiB, times in ms, rates in percent, "-" for what is missing.</summary>
internal static class ReplyText
{
    /// <summary>As thawd writes its replies: quotes, '+' and non-ASCII as they are (these go to jq and people, never into HTML).</summary>
    private static readonly JsonSerializerOptions Relaxed = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>A reply as JSON text again, for --json.</summary>
    public static string Json(JsonNode node) => node.ToJsonString(Relaxed);

    /// <summary>Prints a reply as JSON, straight to the writer (the console would wrap long lines); returns the exit code.</summary>
    public static async Task<int> PrintJsonAsync(IAnsiConsole console, JsonNode reply)
    {
        await console.Profile.Out.Writer.WriteLineAsync(Json(reply));
        return 0;
    }

    public static string Text(JsonNode? node) => node switch
    {
        null => "-",
        JsonValue value when value.TryGetValue<string>(out var text) => text,
        _ => Json(node),
    };

    public static double Number(JsonNode? node) => node is JsonValue value && value.TryGetValue<double>(out double number) ? number : 0;

    public static long Integer(JsonNode? node) => (long)Number(node);

    public static bool Flag(JsonNode? node) => node is JsonValue value && value.TryGetValue<bool>(out bool flag) && flag;

    public static IEnumerable<JsonNode> Items(JsonNode? node) => node is JsonArray array ? array.OfType<JsonNode>() : [];

    public static string Count(JsonNode? node) => node is null ? "-" : Integer(node).ToString(CultureInfo.InvariantCulture);

    public static string Bytes(long bytes) => bytes switch
    {
        >= 1L << 30 => (bytes / (double)(1L << 30)).ToString("0.#", CultureInfo.InvariantCulture) + " GiB",
        >= 1L << 20 => (bytes / (double)(1L << 20)).ToString("0.#", CultureInfo.InvariantCulture) + " MiB",
        >= 1L << 10 => (bytes / (double)(1L << 10)).ToString("0.#", CultureInfo.InvariantCulture) + " KiB",
        _ => bytes.ToString(CultureInfo.InvariantCulture) + " B",
    };

    public static string Ms(double ms) => ms.ToString(ms < 10 ? "0.###" : "0.#", CultureInfo.InvariantCulture) + " ms";

    public static string Percent(JsonNode? rate) => rate is null ? "-" : (Number(rate) * 100).ToString("0.#", CultureInfo.InvariantCulture) + "%";

    /// <summary>What a described function runs: "python f.f", "exec ./run.sh arg"; null when its code did not load.</summary>
    public static string? Runs(JsonNode? function) =>
        function?["handler"] is { } handler ? $"{Text(function["runtime"])} {Text(handler)}"
        : function?["command"] is { } command ? "exec " + string.Join(' ', Items(command).Select(Text))
        : null;

    public static string List(JsonNode? node) => Items(node).Select(Text).ToList() is { Count: > 0 } items ? string.Join(", ", items) : "none";

    /// <summary>A table row of plain text: names and messages from thawd are never read as Spectre markup.</summary>
    public static void Row(Table table, params string[] cells) => table.AddRow([.. cells.Select(c => (IRenderable)new Text(c))]);

    public static Table Table(string title, params string[] columns)
    {
        var table = new Table { Title = new TableTitle(title), Border = TableBorder.Rounded };
        foreach (var column in columns)
            table.AddColumn(new TableColumn(column));
        return table;
    }
}
