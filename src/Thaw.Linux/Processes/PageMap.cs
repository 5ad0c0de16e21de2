using System.Buffers.Binary;
using System.Globalization;

namespace Thaw.Linux.Processes;

/// <summary>
/// Which pages of a process's private writable mappings it holds alone: present, mapped exclusively
/// (bit 56 of /proc/PID/pagemap) and anonymous (bit 61 clear). In a child forked from a zygote these
/// are the pages it copied on write or allocated since the fork, the ones a later child will copy too.
/// Root reads any process's pagemap; the page frame numbers (which need CAP_SYS_ADMIN) are not used.
/// </summary>
public static class PageMap
{
    private const ulong Present = 1UL << 63;
    private const ulong FileOrShared = 1UL << 61;
    private const ulong Exclusive = 1UL << 56;

    /// <summary>
    /// The process's own pages as sorted [start, pages] ranges, at most <paramref name="maxPages"/>
    /// pages in all (the lowest addresses first). Empty if the process is gone.
    /// </summary>
    public static IReadOnlyList<(ulong Start, ulong Pages)> OwnPages(int pid, long maxPages)
    {
        var ranges = new List<(ulong Start, ulong Pages)>();
        long total = 0;
        try
        {
            using var pagemap = File.OpenHandle($"/proc/{pid}/pagemap");
            ulong page = (ulong)Environment.SystemPageSize;
            var entries = new byte[8 * 512];
            foreach (var line in File.ReadLines($"/proc/{pid}/maps"))
            {
                if (!TryPrivateWritable(line, out ulong lo, out ulong hi))
                    continue;
                for (ulong at = lo; at < hi && total < maxPages; )
                {
                    int count = (int)Math.Min((hi - at) / page, 512);
                    int read = RandomAccess.Read(pagemap, entries.AsSpan(0, count * 8), (long)(at / page * 8));
                    if (read <= 0)
                        break;
                    for (int i = 0; i < read / 8 && total < maxPages; i++)
                    {
                        ulong entry = BinaryPrimitives.ReadUInt64LittleEndian(entries.AsSpan(i * 8));
                        if ((entry & (Present | Exclusive | FileOrShared)) != (Present | Exclusive))
                            continue;
                        ulong address = at + (ulong)i * page;
                        total++;
                        if (ranges.Count > 0 && ranges[^1].Start + ranges[^1].Pages * page == address)
                            ranges[^1] = (ranges[^1].Start, ranges[^1].Pages + 1);
                        else
                            ranges.Add((address, 1));
                    }
                    at += (ulong)(read / 8) * page;
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Gone meanwhile: what was read so far is still true of it.
        }
        return ranges;
    }

    /// <summary>"lo-hi rw-p ...": a private writable mapping, not the kernel's [vvar]/[vdso].</summary>
    private static bool TryPrivateWritable(string line, out ulong lo, out ulong hi)
    {
        lo = hi = 0;
        int dash = line.IndexOf('-', StringComparison.Ordinal);
        int space = line.IndexOf(' ', StringComparison.Ordinal);
        if (dash < 0 || space < dash || line.Length < space + 5)
            return false;
        var perms = line.AsSpan(space + 1, 4);
        if (perms[0] != 'r' || perms[1] != 'w' || perms[3] != 'p' || line.EndsWith("[vvar]", StringComparison.Ordinal))
            return false;
        return ulong.TryParse(line.AsSpan(0, dash), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out lo)
            && ulong.TryParse(line.AsSpan(dash + 1, space - dash - 1), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out hi);
    }
}
