using System.Globalization;

namespace Convnet.IO.Onnx;

/// <summary>ONNX's OperatorSetIdProto (domain = 1, version = 2): an operator set the model uses; "" is the default ONNX domain.</summary>
/// <param name="Domain">The operator set's domain.</param>
/// <param name="Version">Its version, e.g. 13.</param>
public sealed record OnnxOperatorSet(string Domain, long Version);

/// <summary>
/// ONNX's ModelProto (ir_version = 1, producer_name = 2, producer_version = 3, graph = 7,
/// opset_import = 8, metadata_props = 14, each entry a StringStringEntryProto with key = 1,
/// value = 2): a whole .onnx file. Field numbers from onnx/onnx.proto; everything else in a file
/// is skipped on read.
/// </summary>
public sealed class OnnxModel
{
    /// <summary>The largest file <see cref="ReadFile"/> accepts: protobuf's 2 GiB limit.</summary>
    public const long MaxFileBytes = int.MaxValue;

    /// <summary>The IR version, e.g. 7.</summary>
    public long IrVersion { get; set; }
    /// <summary>The operator sets the graph uses.</summary>
    public List<OnnxOperatorSet> OperatorSets { get; } = [];
    /// <summary>The tool that wrote the file, e.g. "convnet" or "pytorch".</summary>
    public string ProducerName { get; set; } = "";
    /// <summary>That tool's version.</summary>
    public string ProducerVersion { get; set; } = "";
    /// <summary>The computation.</summary>
    public OnnxGraph Graph { get; set; } = new();
    /// <summary>Free-form (key, value) pairs, in file order, e.g. "class_names".</summary>
    public List<KeyValuePair<string, string>> Metadata { get; } = [];

    /// <summary>The version of the default ONNX operator set, or null when it is not imported.</summary>
    public long? DefaultOperatorSetVersion => OperatorSets.Find(o => o.Domain is "" or "ai.onnx")?.Version;

    /// <summary>The value of the metadata entry <paramref name="key"/>, or null.</summary>
    public string? MetadataValue(string key)
    {
        foreach (var (k, v) in Metadata)
        {
            if (k == key)
            {
                return v;
            }
        }
        return null;
    }

    /// <summary>The file's bytes.</summary>
    public byte[] ToBytes()
    {
        var w = new ProtoWriter();
        w.WriteInt64(1, IrVersion);
        w.WriteString(2, ProducerName);
        w.WriteString(3, ProducerVersion);
        var graph = new ProtoWriter();
        Graph.WriteTo(graph);
        w.WriteMessage(7, graph);
        foreach (var set in OperatorSets)
        {
            var o = new ProtoWriter();
            o.WriteString(1, set.Domain);
            o.WriteInt64(2, set.Version);
            w.WriteMessage(8, o);
        }
        foreach (var (key, value) in Metadata)
        {
            var entry = new ProtoWriter();
            entry.WriteString(1, key);
            entry.WriteString(2, value);
            w.WriteMessage(14, entry);
        }
        return w.ToArray();
    }

    /// <summary>Reads a whole .onnx file's bytes; errors are <see cref="ModelFormatException"/>s naming <paramref name="source"/>.</summary>
    public static OnnxModel Parse(ReadOnlySpan<byte> bytes, string source)
    {
        var r = new ProtoReader(bytes, source);
        var model = new OnnxModel();
        bool hasGraph = false;
        while (r.TryReadTag(out int field, out var wire))
        {
            switch (field)
            {
                case 1:
                    r.ExpectWireType(wire, WireType.Varint, "ModelProto.ir_version");
                    model.IrVersion = r.ReadInt64();
                    break;
                case 2:
                    r.ExpectWireType(wire, WireType.LengthDelimited, "ModelProto.producer_name");
                    model.ProducerName = r.ReadString();
                    break;
                case 3:
                    r.ExpectWireType(wire, WireType.LengthDelimited, "ModelProto.producer_version");
                    model.ProducerVersion = r.ReadString();
                    break;
                case 7:
                    r.ExpectWireType(wire, WireType.LengthDelimited, "ModelProto.graph");
                    model.Graph = OnnxGraph.ReadFrom(r.ReadMessage());
                    hasGraph = true;
                    break;
                case 8:
                    r.ExpectWireType(wire, WireType.LengthDelimited, "ModelProto.opset_import");
                    model.OperatorSets.Add(ReadOperatorSet(r.ReadMessage()));
                    break;
                case 14:
                    r.ExpectWireType(wire, WireType.LengthDelimited, "ModelProto.metadata_props");
                    model.Metadata.Add(ReadEntry(r.ReadMessage()));
                    break;
                default:
                    r.Skip(wire);
                    break;
            }
        }
        if (!hasGraph)
        {
            throw new ModelFormatException(source, "not a valid ONNX file: it has no graph");
        }
        return model;
    }

    /// <summary>
    /// Reads the .onnx file at <paramref name="path"/>. A missing or unreadable file, one over
    /// <see cref="MaxFileBytes"/>, or bytes that are not a model throw <see cref="ModelFormatException"/>
    /// naming <paramref name="path"/>.
    /// </summary>
    public static OnnxModel ReadFile(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        byte[] bytes;
        try
        {
            using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
            if (file.Length > MaxFileBytes)
            {
                throw new ModelFormatException(path, string.Create(CultureInfo.InvariantCulture, $"the file is {file.Length:N0} bytes; ONNX files above 2 GiB (external data) are not supported"));
            }
            bytes = new byte[file.Length];
            file.ReadExactly(bytes);
        }
        catch (FileNotFoundException e)
        {
            throw new ModelFormatException(path, "the file does not exist", e);
        }
        catch (DirectoryNotFoundException e)
        {
            throw new ModelFormatException(path, "its folder does not exist", e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new ModelFormatException(path, "permission denied", e);
        }
        catch (IOException e) when (e is not EndOfStreamException)
        {
            throw new ModelFormatException(path, $"cannot read the file: {e.Message.TrimEnd('.')}", e);
        }
        catch (EndOfStreamException e)
        {
            throw new ModelFormatException(path, "the file shrank while it was read", e);
        }
        return Parse(bytes, path);
    }

    private static OnnxOperatorSet ReadOperatorSet(ProtoReader r)
    {
        string domain = "";
        long version = 0;
        while (r.TryReadTag(out int field, out var wire))
        {
            if (field == 1)
            {
                r.ExpectWireType(wire, WireType.LengthDelimited, "OperatorSetIdProto.domain");
                domain = r.ReadString();
            }
            else if (field == 2)
            {
                r.ExpectWireType(wire, WireType.Varint, "OperatorSetIdProto.version");
                version = r.ReadInt64();
            }
            else
            {
                r.Skip(wire);
            }
        }
        return new OnnxOperatorSet(domain, version);
    }

    private static KeyValuePair<string, string> ReadEntry(ProtoReader r)
    {
        string key = "", value = "";
        while (r.TryReadTag(out int field, out var wire))
        {
            if (field == 1)
            {
                r.ExpectWireType(wire, WireType.LengthDelimited, "StringStringEntryProto.key");
                key = r.ReadString();
            }
            else if (field == 2)
            {
                r.ExpectWireType(wire, WireType.LengthDelimited, "StringStringEntryProto.value");
                value = r.ReadString();
            }
            else
            {
                r.Skip(wire);
            }
        }
        return new(key, value);
    }
}
