using Convnet.IO;
using Convnet.IO.Onnx;
using FsCheck.Xunit;
using Xunit;

namespace Convnet.Tests.IO.Onnx;

public sealed class OnnxProtoTests
{
    [Fact]
    public void Varint_MatchesTheProtobufSpecExample()
    {
        // https://protobuf.dev/programming-guides/encoding/: field 1 = 150 is 08 96 01.
        var w = new ProtoWriter();
        w.WriteInt64(1, 150);
        Assert.Equal(new byte[] { 0x08, 0x96, 0x01 }, w.ToArray());
    }

    [Fact]
    public void NegativeInt64_TakesTenBytes_AndReadsBack()
    {
        var w = new ProtoWriter();
        w.WriteVarint(unchecked((ulong)-1L));
        Assert.Equal(10, w.Written.Length);
        var r = new ProtoReader(w.Written, "t");
        Assert.Equal(-1L, r.ReadInt64());
        Assert.True(r.AtEnd);
    }

    [Property]
    public void Varint_RoundTrips(ulong value)
    {
        var w = new ProtoWriter();
        w.WriteVarint(value);
        var r = new ProtoReader(w.Written, "t");
        Assert.Equal(value, r.ReadVarint());
        Assert.True(r.AtEnd);
    }

    [Property]
    public void Floats_RoundTripBitForBit(float[] values)
    {
        var w = new ProtoWriter();
        w.WritePackedFloat(4, values);
        var r = new ProtoReader(w.Written, "t");
        Assert.True(r.TryReadTag(out int field, out var wire));
        var read = new List<float>();
        r.ReadRepeatedFloat(wire, read);
        Assert.Equal(4, field);
        Assert.Equal(values.Select(BitConverter.SingleToInt32Bits), read.Select(BitConverter.SingleToInt32Bits));
    }

    internal static OnnxModel SampleModel()
    {
        var model = new OnnxModel { IrVersion = 7, ProducerName = "convnet", ProducerVersion = "0.2.0" };
        model.OperatorSets.Add(new OnnxOperatorSet("", 13));
        model.Metadata.Add(new("class_names", "[\"a\",\"é 数\"]"));
        model.Metadata.Add(new("seed", "1"));
        var b = new OnnxGraphBuilder("g");
        string x = b.AddInput("pixels", OnnxDataType.Float, OnnxDimension.Symbolic("N"), OnnxDimension.Of(1), OnnxDimension.Of(2), OnnxDimension.Of(2));
        b.AddOutput("probabilities", OnnxDataType.Float, OnnxDimension.Symbolic("N"), OnnxDimension.Of(3));
        string w = b.AddInitializer("w", [3, 1, 1, 1], [1.5f, -0f, float.NaN]);
        string shape = b.AddInitializer("shape", [2], [-1L, long.MaxValue]);
        var node = b.AddNode("Conv", [x, w, ""], ["y"],
            OnnxAttribute.Of("strides", 2L, 2L),
            OnnxAttribute.Of("alpha", 0.01f),
            OnnxAttribute.Of("group", 1L),
            OnnxAttribute.Of("auto_pad", "NOTSET"),
            OnnxAttribute.Of("scales", 0.5f, 2f),
            OnnxAttribute.Of("value", OnnxTensor.FromFloats("c", [], [3f])),
            new OnnxAttribute { Name = "names", Type = OnnxAttributeType.Strings, Strings = ["p", "q"] });
        node.Domain = "";
        b.AddNode("Softmax", ["y", shape], ["probabilities"], OnnxAttribute.Of("axis", 1L));
        model.Graph = b.Graph;
        return model;
    }

    [Fact]
    public void Model_RoundTripsEveryField_AndWritesTheSameBytesAgain()
    {
        var model = SampleModel();
        byte[] bytes = model.ToBytes();
        var read = OnnxModel.Parse(bytes, "m.onnx");

        Assert.Equal(7, read.IrVersion);
        Assert.Equal("convnet", read.ProducerName);
        Assert.Equal("0.2.0", read.ProducerVersion);
        Assert.Equal(13, read.DefaultOperatorSetVersion);
        Assert.Equal("[\"a\",\"é 数\"]", read.MetadataValue("class_names"));
        Assert.Equal("1", read.MetadataValue("seed"));
        Assert.Null(read.MetadataValue("absent"));

        var g = read.Graph;
        Assert.Equal("g", g.Name);
        var input = Assert.Single(g.Inputs);
        Assert.Equal("pixels", input.Name);
        Assert.Equal(OnnxDataType.Float, input.ElementType);
        Assert.Equal([OnnxDimension.Symbolic("N"), OnnxDimension.Of(1), OnnxDimension.Of(2), OnnxDimension.Of(2)], input.Shape);
        Assert.Equal("probabilities", Assert.Single(g.Outputs).Name);

        var w = g.Initializer("w")!;
        Assert.Equal([3L, 1, 1, 1], w.Dims);
        Assert.Equal(new[] { 1.5f, -0f, float.NaN }.Select(BitConverter.SingleToInt32Bits), w.Floats.Select(BitConverter.SingleToInt32Bits));
        Assert.Equal([-1L, long.MaxValue], g.Initializer("shape")!.Int64s);

        var conv = g.Nodes[0];
        Assert.Equal("Conv", conv.OpType);
        Assert.Equal(["pixels", "w", ""], conv.Inputs);
        Assert.Equal(["y"], conv.Outputs);
        Assert.Equal([2L, 2L], conv.Attribute("strides")!.Ints);
        Assert.Equal(OnnxAttributeType.Ints, conv.Attribute("strides")!.Type);
        Assert.Equal(0.01f, conv.Attribute("alpha")!.Float);
        Assert.Equal(1L, conv.Attribute("group")!.Int);
        Assert.Equal("NOTSET", conv.Attribute("auto_pad")!.String);
        Assert.Equal([0.5f, 2f], conv.Attribute("scales")!.Floats);
        Assert.Equal([3f], conv.Attribute("value")!.Tensor!.Floats);
        Assert.Equal(["p", "q"], conv.Attribute("names")!.Strings);
        Assert.Equal(1L, g.Nodes[1].Attribute("axis")!.Int);
        Assert.NotEqual(conv.Name, g.Nodes[1].Name);

        Assert.Equal(bytes, read.ToBytes());
    }

    [Fact]
    public void UnknownFieldsOfEveryWireType_AreSkipped()
    {
        var model = SampleModel();
        var w = new ProtoWriter();
        w.WriteInt64(99, 5);
        w.WriteFloat(98, 1f);
        w.WriteTag(97, WireType.Fixed64);
        w.WriteVarint(0); // 8 bytes of fixed64 follow
        for (int i = 0; i < 7; i++)
        {
            w.WriteVarint(0);
        }
        w.WriteBytes(96, [1, 2, 3]);
        byte[] bytes = [.. w.Written, .. model.ToBytes()];
        Assert.Equal(model.ToBytes(), OnnxModel.Parse(bytes, "m.onnx").ToBytes());
    }

    [Fact]
    public void RepeatedInts_AreReadPackedAndUnpacked()
    {
        var packed = new ProtoWriter();
        packed.WritePackedInt64(1, [2, 3]);
        packed.WriteInt64(2, (long)OnnxDataType.Int64);
        packed.WritePackedInt64(7, [4, 5, 6, 7, 8, 9]);
        var t = OnnxTensor.Parse(packed.Written, "t");
        Assert.Equal([2L, 3], t.Dims);
        Assert.Equal([4L, 5, 6, 7, 8, 9], t.Int64s);

        var unpacked = new ProtoWriter();
        unpacked.WriteInt64(1, 2);
        unpacked.WriteInt64(1, 1);
        unpacked.WriteInt64(2, (long)OnnxDataType.Float);
        unpacked.WriteFloat(4, 0.25f);
        unpacked.WriteFloat(4, -2f);
        var f = OnnxTensor.Parse(unpacked.Written, "t");
        Assert.Equal([2L, 1], f.Dims);
        Assert.Equal([0.25f, -2f], f.Floats);
    }

    [Fact]
    public void EveryTruncation_IsAModelFormatException_OrAShorterValidModel()
    {
        byte[] bytes = SampleModel().ToBytes();
        int refused = 0;
        for (int length = 0; length < bytes.Length; length++)
        {
            try
            {
                OnnxModel.Parse(bytes.AsSpan(0, length), "m.onnx");
            }
            catch (ModelFormatException e)
            {
                Assert.StartsWith("m.onnx: ", e.Message, StringComparison.Ordinal);
                refused++;
            }
        }
        // Only cuts at a top-level field boundary after the graph leave a valid (shorter) model.
        Assert.True(refused > bytes.Length - 10, $"{refused} of {bytes.Length} truncations refused");
    }

    [Property(MaxTest = 500)]
    public void RandomBytes_AreParsedOrRefused_NeverAnotherException(byte[] bytes)
    {
        try
        {
            OnnxModel.Parse(bytes, "r.onnx");
        }
        catch (ModelFormatException)
        {
        }
    }

    [Fact]
    public void CorruptedBytes_AreParsedOrRefused_NeverAnotherException()
    {
        byte[] good = SampleModel().ToBytes();
        var rng = new Random(17);
        for (int trial = 0; trial < 2000; trial++)
        {
            byte[] bytes = (byte[])good.Clone();
            for (int k = 0; k < 3; k++)
            {
                bytes[rng.Next(bytes.Length)] = (byte)rng.Next(256);
            }
            try
            {
                OnnxModel.Parse(bytes, "c.onnx");
            }
            catch (ModelFormatException)
            {
            }
        }
    }

    private static ModelFormatException Refused(ReadOnlySpan<byte> bytes)
    {
        byte[] copy = bytes.ToArray();
        return Assert.Throws<ModelFormatException>(() => OnnxModel.Parse(copy, "bad.onnx"));
    }

    [Fact]
    public void ALengthPastTheEnd_IsRefusedNamingTheBytes()
    {
        var w = new ProtoWriter();
        w.WriteTag(7, WireType.LengthDelimited);
        w.WriteVarint(1_000_000_000);
        w.WriteVarint(0);
        var e = Refused(w.Written);
        Assert.Equal("bad.onnx: not a valid ONNX file: a field declares 1000000000 bytes but only 1 remain (at byte 1)", e.Message);
    }

    [Fact]
    public void AVarintOverTenBytes_OrCutShort_IsRefused()
    {
        Assert.Contains("longer than 10 bytes", Refused([0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]).Message, StringComparison.Ordinal);
        Assert.Contains("ends inside a varint", Refused([0x08, 0x80]).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void GroupsAndBadWireTypes_AreRefused()
    {
        Assert.Contains("wire type 3", Refused([(7 << 3) | 3]).Message, StringComparison.Ordinal);
        Assert.Contains("wire type 7", Refused([(7 << 3) | 7]).Message, StringComparison.Ordinal);
        Assert.Contains("field number 0", Refused([0x02, 0x00]).Message, StringComparison.Ordinal);
        // The graph field as a varint instead of a message.
        Assert.Contains("ModelProto.graph has wire type 0", Refused([(7 << 3) | 0, 1]).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AModelWithoutAGraph_IsRefused() =>
        Assert.Equal("bad.onnx: not a valid ONNX file: it has no graph", Refused([0x08, 0x07]).Message);

    private static byte[] ModelWithInitializer(ProtoWriter tensor)
    {
        var graph = new ProtoWriter();
        graph.WriteMessage(5, tensor);
        var model = new ProtoWriter();
        model.WriteMessage(7, graph);
        return model.ToArray();
    }

    [Fact]
    public void ATensorDeclaringMoreValuesThanItHolds_IsRefusedWithoutAllocatingThem()
    {
        var t = new ProtoWriter();
        t.WriteInt64(1, 1L << 40);
        t.WriteInt64(1, 1L << 20);
        t.WriteInt64(2, (long)OnnxDataType.Float);
        t.WriteString(8, "conv.weight");
        t.WriteBytes(9, new byte[8]);
        var e = Refused(ModelWithInitializer(t));
        Assert.Contains("tensor 'conv.weight' declares 1152921504606846976 values but holds 2", e.Message, StringComparison.Ordinal);

        var overflow = new ProtoWriter();
        overflow.WriteInt64(1, long.MaxValue);
        overflow.WriteInt64(1, 3);
        overflow.WriteInt64(2, (long)OnnxDataType.Int64);
        Assert.Contains("more values than fit in 64 bits", Refused(ModelWithInitializer(overflow)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void BadTensors_AreRefused()
    {
        var negative = new ProtoWriter();
        negative.WriteInt64(1, -2);
        negative.WriteInt64(2, (long)OnnxDataType.Float);
        Assert.Contains("negative dimension (-2)", Refused(ModelWithInitializer(negative)).Message, StringComparison.Ordinal);

        var ragged = new ProtoWriter();
        ragged.WriteInt64(2, (long)OnnxDataType.Float);
        ragged.WriteBytes(9, new byte[6]);
        Assert.Contains("raw_data holds 6 bytes, not a multiple of 4", Refused(ModelWithInitializer(ragged)).Message, StringComparison.Ordinal);

        var external = new ProtoWriter();
        external.WriteInt64(2, (long)OnnxDataType.Float);
        external.WriteString(8, "w");
        external.WriteInt64(14, 1);
        Assert.Contains("tensor 'w' keeps its data in an external file", Refused(ModelWithInitializer(external)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void InvalidUtf8_IsRefused()
    {
        var w = new ProtoWriter();
        w.WriteBytes(2, [0xFF, 0xFE]);
        Assert.Contains("not valid UTF-8", Refused(w.Written).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ReadFile_RefusesAMissingFile_NamingIt()
    {
        string path = Path.Combine(Path.GetTempPath(), "convnet-no-such-" + Guid.NewGuid().ToString("N") + ".onnx");
        var e = Assert.Throws<ModelFormatException>(() => OnnxModel.ReadFile(path));
        Assert.Equal($"{path}: the file does not exist", e.Message);
    }

    [Fact]
    public void ReadFile_ReadsWhatToBytesWrote()
    {
        string path = Path.Combine(Path.GetTempPath(), "convnet-onnx-" + Guid.NewGuid().ToString("N") + ".onnx");
        try
        {
            File.WriteAllBytes(path, SampleModel().ToBytes());
            Assert.Equal(SampleModel().ToBytes(), OnnxModel.ReadFile(path).ToBytes());
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Builder_GivesUniqueNamesUnderThePrefix()
    {
        var b = new OnnxGraphBuilder("g");
        Assert.Equal("x", b.UniqueName("x"));
        Assert.Equal("x_1", b.UniqueName("x"));
        Assert.Equal("x_2", b.UniqueName("x"));
        b.Prefix = "member0/";
        Assert.Equal("member0/x", b.UniqueName("x"));
        Assert.Equal("member0/w", b.AddInitializer("w", [1], [1f]));
        Assert.Equal("member0/w_1", b.AddInitializer("w", [1], [2L]));
        Assert.Equal("member0/Relu", b.AddNode("Relu", ["x"], ["member0/y"]).Name);
        Assert.Equal("member0/y_1", b.AddNode("Relu", ["x"], "y"));
        Assert.Throws<ArgumentException>(() => b.AddInput("x", OnnxDataType.Float));
        Assert.Throws<ArgumentException>(() => b.AddInitializer("bad", [2, 2], [1f, 2f, 3f]));
    }
}
