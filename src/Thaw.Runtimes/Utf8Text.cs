using System.Text;
using System.Text.Unicode;

namespace Thaw.Runtimes;

/// <summary>
/// Where text that should be UTF-8 is not, said as an editor shows it, instead of what a decoder says
/// about the UTF-16 it could not make ("Invalid UTF-16 surrogate").
/// </summary>
public static class Utf8Text
{
    /// <summary>Null when <paramref name="bytes"/> are UTF-8, else "line 2, column 14 (byte 0xFF at offset 25)".</summary>
    public static string? FindInvalid(ReadOnlySpan<byte> bytes)
    {
        if (Utf8.IsValid(bytes))
            return null;
        int offset = 0;
        while (offset < bytes.Length && Rune.DecodeFromUtf8(bytes[offset..], out _, out int used) == System.Buffers.OperationStatus.Done)
            offset += used;
        string before = Encoding.UTF8.GetString(bytes[..offset]);
        int line = before.Count(c => c == '\n') + 1;
        int column = before.Length - (before.LastIndexOf('\n') + 1) + 1;
        return offset < bytes.Length
            ? $"line {line}, column {column} (byte 0x{bytes[offset]:X2} at offset {offset})"
            : $"line {line}, column {column} (a character cut off at the end)";
    }
}
