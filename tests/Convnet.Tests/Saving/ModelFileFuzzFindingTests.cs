using System.Text.Json;
using Convnet.IO;
using Convnet.Saving;
using Convnet.Tests.Data;
using Xunit;

namespace Convnet.Tests.Saving;

/// <summary>
/// Model files found by fuzzing the loader (fuzz/README.md): metadata that claims sizes its tensors
/// do not hold. Each must be refused with a <see cref="ModelFormatException"/>, without allocating
/// what the metadata claims.
/// </summary>
public sealed class ModelFileFuzzFindingTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static string Architecture(params (string Type, Dictionary<string, string> Config)[] layers) =>
        JsonSerializer.Serialize(layers.Select(l => new Dictionary<string, string>(l.Config) { ["type"] = l.Type }));

    private static readonly Dictionary<string, string> None = [];

    private static Dictionary<string, string> Conv1x1 => new() { ["filters"] = "1", ["kernel_size"] = "1", ["stride"] = "1", ["padding"] = "valid" };

    private string Write(string name, string inputShape, string architecture, params NamedTensor[] tensors)
    {
        string path = _dir.File(name);
        SafeTensors.Write(path, tensors, new Dictionary<string, string>
        {
            ["format"] = ModelFile.Format,
            ["format_version"] = ModelFile.Version.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["input_shape"] = inputShape,
            ["classes"] = "2",
            ["architecture"] = architecture,
        });
        return path;
    }

    private static NamedTensor Tensor(string name, params int[] shape) => new(name, shape, new float[NamedTensor.ElementCount(shape)]);

    private static ModelFormatException Refused(string path)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<ModelFormatException>(() => ModelFile.LoadClassifier(path, threads: 1));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated < 64L << 20, $"refusing {Path.GetFileName(path)} allocated {allocated:N0} bytes");
        return e;
    }

    [Fact]
    public void A_dense_layer_larger_than_its_tensors_is_refused_before_it_is_built()
    {
        // 400 bytes of tensors, metadata claiming Dense(100000000): 3.2 GB was allocated before the shapes were compared.
        string path = Write("huge-dense.safetensors", "2,2,1",
            Architecture(("Flatten", None), ("Dense", new() { ["units"] = "100000000" })),
            Tensor("1.weight", 2, 4), Tensor("1.bias", 2));

        var e = Refused(path);

        Assert.Contains("tensor '1.weight' has shape [2, 4], the architecture needs [100000000, 4]", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_conv_layer_larger_than_its_tensors_is_refused_before_it_is_built()
    {
        string path = Write("huge-conv.safetensors", "8,8,1",
            Architecture(("Conv2D", new() { ["filters"] = "2000000", ["kernel_size"] = "5", ["stride"] = "1", ["padding"] = "same" }), ("GlobalAveragePooling2D", None), ("Dense", new() { ["units"] = "2" })),
            Tensor("0.weight", 1, 1, 5, 5), Tensor("0.bias", 1), Tensor("2.weight", 2, 1), Tensor("2.bias", 2));

        var e = Refused(path);

        Assert.Contains("tensor '0.weight' has shape [1, 1, 5, 5], the architecture needs [2000000, 1, 5, 5]", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_layer_that_does_not_fit_is_reported_as_such_not_as_a_wrong_tensor()
    {
        string path = Write("conv-too-big.safetensors", "2,2,1",
            Architecture(("Conv2D", new() { ["filters"] = "1", ["kernel_size"] = "5", ["stride"] = "1", ["padding"] = "valid" }), ("Flatten", None), ("Dense", new() { ["units"] = "2" })));

        var e = Refused(path);

        Assert.Contains("invalid architecture", e.Message, StringComparison.Ordinal);
        Assert.Contains("does not fit", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    // 65536 × 65537 = 2^32 + 65536: the input's size wrapped to 65536, the model loaded, and
    // predicting threw ArgumentOutOfRangeException from im2col.
    [InlineData("65536,65537,1")]
    [InlineData("2147483647,2147483647,2147483647")]
    public void An_input_shape_larger_than_int_is_refused(string inputShape)
    {
        string path = Write("overflow-input.safetensors", inputShape,
            Architecture(("Conv2D", Conv1x1), ("GlobalAveragePooling2D", None), ("Dense", new() { ["units"] = "2" })),
            Tensor("0.weight", 1, 1, 1, 1), Tensor("0.bias", 1), Tensor("2.weight", 2, 1), Tensor("2.bias", 2));

        var e = Refused(path);

        Assert.Contains($"invalid input_shape '{inputShape}'", e.Message, StringComparison.Ordinal);
    }
}
