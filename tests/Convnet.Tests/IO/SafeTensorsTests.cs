using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Convnet.IO;
using FsCheck.Xunit;
using Xunit;

namespace Convnet.Tests.IO;

public sealed class SafeTensorsTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "convnet-safetensors-" + Guid.NewGuid().ToString("N"));

    public SafeTensorsTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string PathOf(string name) => Path.Combine(_dir, name);

    private static readonly Dictionary<string, string> NoMetadata = [];

    private static NamedTensor[] SampleTensors()
    {
        var kernel = new float[3 * 3 * 1 * 2];
        for (int i = 0; i < kernel.Length; i++)
        {
            kernel[i] = (i - 9) * 0.125f;
        }
        return
        [
            new NamedTensor("conv2d/kernel", [3, 3, 1, 2], kernel),
            // NaN with a payload, -0, infinities and a subnormal must come back bit for bit.
            new NamedTensor("conv2d/bias", [6], [BitConverter.Int32BitsToSingle(0x7FC0_1234), -0f, float.PositiveInfinity, float.NegativeInfinity, float.Epsilon, 1e-30f]),
            new NamedTensor("scalar", [], [42f]),
            new NamedTensor("empty", [0, 4], []),
            new NamedTensor("dense/kernel", [4, 3], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]),
        ];
    }

    private static Dictionary<string, string> MetadataFor(IReadOnlyList<NamedTensor> tensors) => new()
    {
        ["format"] = "convnet",
        ["architecture"] = "{\"layers\":[\"conv2d\",\"dense\"]}",
        ["note"] = "quotes \" backslash \\ newline \n non-ASCII é 数",
        [SafeTensors.ChecksumKey] = SafeTensors.Sha256OfTensorBytes(tensors),
    };

    private string WriteSample(string name = "model.safetensors")
    {
        string path = PathOf(name);
        var tensors = SampleTensors();
        SafeTensors.Write(path, tensors, MetadataFor(tensors));
        return path;
    }

    /// <summary>Writes a file by hand: header length (the JSON's own unless given), JSON, data.</summary>
    private string WriteRaw(string json, byte[] data, ulong? headerLength = null, string name = "raw.safetensors")
    {
        string path = PathOf(name);
        byte[] header = Encoding.UTF8.GetBytes(json);
        var bytes = new byte[8 + header.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, headerLength ?? (ulong)header.Length);
        header.CopyTo(bytes, 8);
        data.CopyTo(bytes, 8 + header.Length);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static ModelFormatException ReadFails(string path)
    {
        var e = Assert.Throws<ModelFormatException>(() => SafeTensors.Read(path));
        Assert.Equal(path, e.FilePath);
        Assert.StartsWith(path + ": ", e.Message);
        return e;
    }

    [Fact]
    public void RoundTrip_ReturnsTheSameTensorsAndMetadata()
    {
        var tensors = SampleTensors();
        var metadata = MetadataFor(tensors);
        string path = PathOf("model.safetensors");

        SafeTensors.Write(path, tensors, metadata);
        var (readTensors, readMetadata) = SafeTensors.Read(path);

        Assert.Equal(tensors, readTensors);
        Assert.Equal(metadata.OrderBy(p => p.Key), readMetadata.OrderBy(p => p.Key));
        Assert.Equal(metadata, SafeTensors.ReadMetadata(path));
        Assert.Equal(metadata[SafeTensors.ChecksumKey], SafeTensors.Sha256OfTensorBytes(readTensors));
    }

    [Fact]
    public void RoundTrip_WithoutMetadataOrTensors()
    {
        string path = PathOf("empty.safetensors");
        SafeTensors.Write(path, [], NoMetadata);

        Assert.Equal("{}      "u8.ToArray(), File.ReadAllBytes(path)[8..]);
        var (tensors, metadata) = SafeTensors.Read(path);
        Assert.Empty(tensors);
        Assert.Empty(metadata);
    }

    [Property(MaxTest = 50)]
    public bool RoundTrip_AnyFloats(float[] values)
    {
        string path = PathOf("property.safetensors");
        var tensor = new NamedTensor("x", [values.Length], values);
        SafeTensors.Write(path, [tensor], NoMetadata);
        var (read, _) = SafeTensors.Read(path);
        return read.Count == 1 && read[0].Equals(tensor);
    }

    [Fact]
    public void Layout_MatchesTheSafetensorsSpecByteForByte()
    {
        string path = PathOf("tiny.safetensors");
        SafeTensors.Write(path, [new NamedTensor("w", [2], [1f, -2f])], new Dictionary<string, string> { ["k"] = "v" });

        // 79 bytes of JSON plus one space pad the header to 80, so the data starts at byte 88.
        const string json = """{"__metadata__":{"k":"v"},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""";
        Assert.Equal(79, json.Length);
        byte[] expected =
        [
            80, 0, 0, 0, 0, 0, 0, 0,
            .. Encoding.ASCII.GetBytes(json), (byte)' ',
            0x00, 0x00, 0x80, 0x3F, // 1.0f little-endian
            0x00, 0x00, 0x00, 0xC0, // -2.0f little-endian
        ];
        Assert.Equal(expected, File.ReadAllBytes(path));
    }

    [Fact]
    public void Layout_DataIsAlwaysEightByteAlignedAndPaddedWithSpaces()
    {
        for (int nameLength = 1; nameLength <= 16; nameLength++)
        {
            string path = PathOf($"align{nameLength}.safetensors");
            SafeTensors.Write(path, [new NamedTensor(new string('a', nameLength), [1], [3f])], NoMetadata);
            byte[] bytes = File.ReadAllBytes(path);
            ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(bytes);

            Assert.Equal(0UL, (8 + headerLength) % 8);
            Assert.Equal((ulong)bytes.Length, 8 + headerLength + 4);
            string header = Encoding.UTF8.GetString(bytes, 8, (int)headerLength);
            Assert.EndsWith("}", header.TrimEnd(' '));
            Assert.True(header.Length - header.TrimEnd(' ').Length < 8);
        }
    }

    [Fact]
    public void Write_IsDeterministic()
    {
        var tensors = SampleTensors();
        var metadata = MetadataFor(tensors);
        var reversed = new Dictionary<string, string>(metadata.Reverse());
        string a = PathOf("a.safetensors"), b = PathOf("b.safetensors");

        SafeTensors.Write(a, tensors, metadata);
        SafeTensors.Write(b, SampleTensors(), reversed);

        Assert.Equal(File.ReadAllBytes(a), File.ReadAllBytes(b));
    }

    [Fact]
    public void Write_KeepsTheGivenTensorOrder()
    {
        var tensors = SampleTensors().Reverse().ToArray();
        string path = PathOf("order.safetensors");
        SafeTensors.Write(path, tensors, NoMetadata);

        Assert.Equal(tensors.Select(t => t.Name), SafeTensors.Read(path).Tensors.Select(t => t.Name));
    }

    [Fact]
    public void Sha256OfTensorBytes_IsTheHashOfTheDataAfterTheHeader()
    {
        string path = WriteSample();
        byte[] bytes = File.ReadAllBytes(path);
        int dataStart = 8 + (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);

        string expected = Convert.ToHexStringLower(SHA256.HashData(bytes.AsSpan(dataStart)));

        Assert.Equal(expected, SafeTensors.Sha256OfTensorBytes(SampleTensors()));
        Assert.Equal(expected, SafeTensors.ReadMetadata(path)[SafeTensors.ChecksumKey]);
    }

    [Fact]
    public void Read_MissingFile()
    {
        Assert.Contains("file not found", ReadFails(PathOf("nope.safetensors")).Message);
        Assert.Contains("file not found", ReadFails(PathOf("nodir/nope.safetensors")).Message);
        Assert.Throws<ModelFormatException>(() => SafeTensors.ReadMetadata(PathOf("nope.safetensors")));
    }

    [Fact]
    public void Read_EmptyAndTooShortFiles()
    {
        string empty = PathOf("empty");
        File.WriteAllBytes(empty, []);
        Assert.Contains("not a safetensors file (0 bytes", ReadFails(empty).Message);

        string seven = PathOf("seven");
        File.WriteAllBytes(seven, [1, 2, 3, 4, 5, 6, 7]);
        Assert.Contains("not a safetensors file (7 bytes", ReadFails(seven).Message);
    }

    [Fact]
    public void Read_HeaderLengthZero() =>
        Assert.Contains("header length 0", ReadFails(WriteRaw("", [1, 2, 3])).Message);

    [Fact]
    public void Read_HeaderLengthBeyondTheFile()
    {
        string path = WriteRaw("{}", new byte[1234 - 10], headerLength: 8387584768);
        Assert.Equal($"{path}: not a safetensors file (header length 8387584768 exceeds file size 1234)", ReadFails(path).Message);

        Assert.Contains("exceeds file size", ReadFails(WriteRaw("{}", [], headerLength: ulong.MaxValue)).Message);
        Assert.Contains("exceeds file size", ReadFails(WriteRaw("{}", [], headerLength: 3)).Message);
    }

    [Fact]
    public void Read_HeaderLengthOverTheLimit()
    {
        string path = WriteRaw("{}", [], headerLength: SafeTensors.MaxHeaderBytes + 1UL);
        using (var stream = new FileStream(path, FileMode.Open))
        {
            stream.SetLength(8L + SafeTensors.MaxHeaderBytes + 16); // sparse
        }
        Assert.Contains("exceeds the 100000000-byte limit", ReadFails(path).Message);
    }

    [Fact]
    public void Read_PngAndRandomBytes()
    {
        string png = PathOf("image.png");
        File.WriteAllBytes(png, [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52, 0, 0, 0, 1, 0, 0, 0, 1, 8, 6, 0, 0, 0]);
        Assert.Contains("not a safetensors file", ReadFails(png).Message);

        var random = new Random(1234);
        for (int i = 0; i < 50; i++)
        {
            string path = PathOf($"random{i}");
            var bytes = new byte[random.Next(0, 2000)];
            random.NextBytes(bytes);
            File.WriteAllBytes(path, bytes);
            ReadFails(path);
        }
    }

    [Fact]
    public void Read_EveryTruncationFails()
    {
        byte[] bytes = File.ReadAllBytes(WriteSample());
        string path = PathOf("truncated.safetensors");
        for (int length = 0; length < bytes.Length; length++)
        {
            File.WriteAllBytes(path, bytes[..length]);
            ReadFails(path);
        }
    }

    [Fact]
    public void Read_AFlippedDataByteIsAChecksumMismatch()
    {
        string path = WriteSample();
        byte[] bytes = File.ReadAllBytes(path);
        bytes[^5] ^= 0x01;
        File.WriteAllBytes(path, bytes);

        Assert.Contains("checksum mismatch", ReadFails(path).Message);
        // The header alone is still valid.
        Assert.Equal("convnet", SafeTensors.ReadMetadata(path)["format"]);
    }

    [Fact]
    public void Read_AnySingleBitFlipFailsCleanlyOrOnlyRenames()
    {
        byte[] original = File.ReadAllBytes(WriteSample());
        int dataStart = 8 + (int)BinaryPrimitives.ReadUInt64LittleEndian(original);
        string path = PathOf("flipped.safetensors");
        for (int i = 0; i < original.Length; i++)
        {
            for (int bit = 0; bit < 8; bit++)
            {
                byte[] bytes = (byte[])original.Clone();
                bytes[i] ^= (byte)(1 << bit);
                File.WriteAllBytes(path, bytes);
                try
                {
                    var (tensors, _) = SafeTensors.Read(path);
                    // A flip inside a name or a metadata value can leave a valid file; data must be intact.
                    Assert.True(i < dataStart, $"flip at byte {i} bit {bit} went unnoticed");
                    Assert.Equal(SampleTensors().Select(t => t.Data), tensors.Select(t => t.Data));
                }
                catch (ModelFormatException e) when (i >= dataStart)
                {
                    Assert.Contains("checksum mismatch", e.Message);
                }
                catch (ModelFormatException)
                {
                }
            }
        }
    }

    [Fact]
    public void Read_FlippedHeaderStructureFails()
    {
        string path = WriteSample();
        byte[] original = File.ReadAllBytes(path);

        byte[] bytes = (byte[])original.Clone();
        bytes[8] = (byte)'[';
        File.WriteAllBytes(path, bytes);
        Assert.Contains("does not start with '{'", ReadFails(path).Message);

        bytes = (byte[])original.Clone();
        bytes[9] = (byte)'x'; // the quote opening the first key
        File.WriteAllBytes(path, bytes);
        Assert.Contains("invalid JSON", ReadFails(path).Message);

        bytes = (byte[])original.Clone();
        bytes[20] = 0xFF;
        File.WriteAllBytes(path, bytes);
        Assert.Contains("not valid UTF-8", ReadFails(path).Message);
    }

    [Fact]
    public void Read_AcceptsAForeignValidLayout()
    {
        // Keys in a different order from the data, no padding, "__metadata__": null, an empty tensor.
        const string json = """{"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"data_offsets":[4,12],"shape":[2],"dtype":"F32"},"z":{"dtype":"F32","shape":[0],"data_offsets":[12,12]},"__metadata__":null}""";
        var data = new byte[12];
        BinaryPrimitives.WriteSingleLittleEndian(data.AsSpan(0), 1.5f);
        BinaryPrimitives.WriteSingleLittleEndian(data.AsSpan(4), -1f);
        BinaryPrimitives.WriteSingleLittleEndian(data.AsSpan(8), 2f);

        var (tensors, metadata) = SafeTensors.Read(WriteRaw(json, data));

        Assert.Empty(metadata);
        Assert.Equal(
            [new NamedTensor("b", [1], [1.5f]), new NamedTensor("a", [2], [-1f, 2f]), new NamedTensor("z", [0], [])],
            tensors);
    }

    [Theory]
    [InlineData("""{"x":{"dtype":"F16","shape":[2],"data_offsets":[0,8]}}""", "tensor 'x' has dtype F16; only F32 is supported")]
    [InlineData("""{"x":{"dtype":"BF16","shape":[4],"data_offsets":[0,8]}}""", "tensor 'x' has dtype BF16; only F32 is supported")]
    [InlineData("""{"x":{"dtype":32,"shape":[2],"data_offsets":[0,8]}}""", "tensor 'x' has dtype 32, not a string")]
    [InlineData("""{"x":{"shape":[2],"data_offsets":[0,8]}}""", "tensor 'x' has no dtype")]
    [InlineData("""{"x":{"dtype":"F32","data_offsets":[0,8]}}""", "tensor 'x' has no shape")]
    [InlineData("""{"x":{"dtype":"F32","shape":[2]}}""", "tensor 'x' has no data_offsets")]
    [InlineData("""{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"extra":1}}""", "tensor 'x' has unknown field 'extra'")]
    [InlineData("""{"x":{"dtype":"F32","dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", "tensor 'x' has field 'dtype' twice")]
    [InlineData("""{"x":[1,2]}""", "tensor 'x' is a JSON Array, not an object")]
    [InlineData("""{"x":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}""", "dimensions must be non-negative integers")]
    [InlineData("""{"x":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}}""", "dimensions must be non-negative integers")]
    [InlineData("""{"x":{"dtype":"F32","shape":["2"],"data_offsets":[0,8]}}""", "dimensions must be non-negative integers")]
    [InlineData("""{"x":{"dtype":"F32","shape":[3000000000],"data_offsets":[0,8]}}""", "dimensions must be non-negative integers")]
    [InlineData("""{"x":{"dtype":"F32","shape":[2000000000,2000000000],"data_offsets":[0,8]}}""", "too many values")]
    [InlineData("""{"x":{"dtype":"F32","shape":2,"data_offsets":[0,8]}}""", "not an array")]
    [InlineData("""{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}""", "(4 bytes) but shape [2] needs 8 bytes")]
    [InlineData("""{"x":{"dtype":"F32","shape":[2],"data_offsets":[0]}}""", "must be two non-negative integers")]
    [InlineData("""{"x":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}}""", "must be two non-negative integers")]
    [InlineData("""{"x":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}""", "ending before they begin")]
    [InlineData("""{"x":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}""", "beyond the 8 bytes of data")]
    [InlineData("""{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"y":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}""", "beyond the 8 bytes of data")]
    [InlineData("""{"x":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""", "gap in the data (4 unused bytes before tensor 'x')")]
    [InlineData("""{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""", "4 trailing bytes after the last tensor")]
    [InlineData("""{}""", "8 trailing bytes after the last tensor")]
    [InlineData("""{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"y":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""", "tensors 'x' and 'y' overlap")]
    [InlineData("""{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"x":{"dtype":"F32","shape":[0],"data_offsets":[8,8]}}""", "duplicate key 'x'")]
    [InlineData("""{"__metadata__":{"epochs":3},"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", "metadata value for 'epochs' is a JSON Number; metadata values must be strings")]
    [InlineData("""{"__metadata__":{"a":null},"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", "metadata value for 'a' is a JSON Null")]
    [InlineData("""{"__metadata__":{"a":"1","a":"2"},"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", "duplicate metadata key 'a'")]
    [InlineData("""{"__metadata__":["a"],"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", "__metadata__ is a JSON Array, not an object")]
    [InlineData("""{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},}""", "invalid JSON")]
    [InlineData("""{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}} x""", "invalid JSON")]
    [InlineData("""{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}/* c */}""", "invalid JSON")]
    [InlineData("""{"x\ud800":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", "corrupt header")]
    public void Read_MalformedHeader(string json, string expected)
    {
        string path = WriteRaw(json, new byte[8]);
        Assert.Contains(expected, ReadFails(path).Message);
        Assert.Contains(expected, Assert.Throws<ModelFormatException>(() => SafeTensors.ReadMetadata(path)).Message);
    }

    [Fact]
    public void Read_GapBetweenTensors()
    {
        const string json = """{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"y":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}""";
        Assert.Contains("gap in the data (4 unused bytes between tensors 'x' and 'y')", ReadFails(WriteRaw(json, new byte[12])).Message);
    }

    [Fact]
    public void Read_InvalidUtf8InHeader()
    {
        string path = WriteRaw("""{"x":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}""", []);
        byte[] bytes = File.ReadAllBytes(path);
        bytes[10] = 0xC3; // a lead byte with no continuation, inside the key "x"
        File.WriteAllBytes(path, bytes);
        Assert.Contains("not valid UTF-8", ReadFails(path).Message);
    }

    [Fact]
    public void Read_AcceptsSpacePaddingAfterTheJson()
    {
        string path = WriteRaw("""{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""" + new string(' ', 13), [0, 0, 0x80, 0x3F]);
        Assert.Equal([1f], SafeTensors.Read(path).Tensors[0].Data);
    }

    [Fact]
    public void Write_OverAnExistingFileThatFailsLeavesItUntouched()
    {
        string path = WriteSample();
        byte[] before = File.ReadAllBytes(path);

        var bad = new NamedTensor("w", [2, 2], [1, 2, 3, 4]);
        bad.Shape[0] = 3; // the shape array is the caller's; Write must check it again
        Assert.Throws<ArgumentException>(() => SafeTensors.Write(path, [bad], NoMetadata));

        var good = new NamedTensor("w", [1], [1]);
        var wrongChecksum = new Dictionary<string, string> { [SafeTensors.ChecksumKey] = new string('0', 64) };
        Assert.Throws<ArgumentException>(() => SafeTensors.Write(path, [good], wrongChecksum));
        Assert.Throws<ArgumentException>(() => SafeTensors.Write(path, [good, good], NoMetadata));
        Assert.Throws<ArgumentException>(() => SafeTensors.Write(path, [new NamedTensor("__metadata__", [1], [1])], NoMetadata));
        Assert.Throws<ArgumentException>(() => SafeTensors.Write(path, [good], new Dictionary<string, string> { ["a"] = null! }));

        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Equal([path], Directory.GetFiles(_dir));
    }

    [Fact]
    public void Write_FailingAfterTheTempFileIsWrittenRemovesIt()
    {
        // The final move onto a directory fails after the data has been written and flushed.
        string path = PathOf("occupied");
        Directory.CreateDirectory(path);
        File.WriteAllText(Path.Combine(path, "keep"), "x");

        var e = Record.Exception(() => SafeTensors.Write(path, SampleTensors(), NoMetadata));

        Assert.True(e is IOException or UnauthorizedAccessException, e?.ToString());
        Assert.Empty(Directory.GetFiles(_dir));
        Assert.Equal("x", File.ReadAllText(Path.Combine(path, "keep")));
    }

    [Fact]
    public void Write_ReplacesAnExistingFile()
    {
        string path = WriteSample();
        SafeTensors.Write(path, [new NamedTensor("only", [1], [7f])], NoMetadata);

        Assert.Equal("only", Assert.Single(SafeTensors.Read(path).Tensors).Name);
        Assert.Equal([path], Directory.GetFiles(_dir));
    }

    [Fact]
    public void NamedTensor_ValidatesItsShape()
    {
        Assert.Throws<ArgumentException>(() => new NamedTensor("x", [2, 3], new float[5]));
        Assert.Throws<ArgumentException>(() => new NamedTensor("x", [-1], []));
        Assert.Throws<ArgumentException>(() => new NamedTensor("x", [65536, 65536], []));
        Assert.Single(new NamedTensor("x", [], [1f]).Data);
        Assert.Empty(new NamedTensor("x", [3, 0], []).Data);
    }
}
