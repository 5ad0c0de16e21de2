using System.Buffers.Binary;
using System.Text;

namespace Thaw.Linux.Netlink;

/// <summary>Walks the rtattr list that follows a family header in a netlink reply.</summary>
internal static class NetlinkAttributes
{
    public static void ForEach(ReadOnlySpan<byte> attrs, Func<ushort, ReadOnlySpan<byte>, bool> each)
    {
        int off = 0;
        while (off + 4 <= attrs.Length)
        {
            int len = BinaryPrimitives.ReadUInt16LittleEndian(attrs[off..]);
            ushort type = (ushort)(BinaryPrimitives.ReadUInt16LittleEndian(attrs[(off + 2)..]) & 0x3fff);
            if (len < 4 || off + len > attrs.Length)
                return;
            if (!each(type, attrs.Slice(off + 4, len - 4)))
                return;
            off += NetlinkMessage.Align(len);
        }
    }

    public static string String(ReadOnlySpan<byte> value)
    {
        int nul = value.IndexOf((byte)0);
        return Encoding.UTF8.GetString(nul >= 0 ? value[..nul] : value);
    }
}
