using System.Globalization;
using Convnet.Kernels;
using Convnet.Tensors;

namespace Convnet.Layers;

/// <summary>
/// What the windowed pooling layers share: a square window moved by a stride over "valid"
/// positions (Keras's default padding), per channel.
/// </summary>
public abstract class Pooling2D : Layer
{
    /// <param name="poolSize">Window size.</param>
    /// <param name="stride">Step between windows; defaults to <paramref name="poolSize"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException">An argument is less than 1; the message names it.</exception>
    protected Pooling2D(int poolSize, int? stride)
    {
        if (poolSize < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(poolSize), poolSize, "poolSize must be at least 1.");
        }
        if (stride is < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(stride), stride, "stride must be at least 1.");
        }
        PoolSize = poolSize;
        Stride = stride ?? poolSize;
    }

    /// <summary>Side of the square window.</summary>
    public int PoolSize { get; }
    /// <summary>Step between windows, in both directions (the pool size unless given).</summary>
    public int Stride { get; }

    /// <summary>The window geometry over this layer's input; set by Build.</summary>
    protected ConvGeometry Geometry { get; private set; }

    /// <summary>The spec token: <paramref name="word"/>&lt;P&gt;, with s&lt;S&gt; when the stride is not the pool size.</summary>
    protected string FormatToken(string word) => word + LayerConfig.Of(PoolSize) + (Stride == PoolSize ? "" : "s" + LayerConfig.Of(Stride));

    /// <summary>Pool size and stride of "<paramref name="word"/>&lt;P&gt;[s&lt;S&gt;]", or null when <paramref name="token"/> does not start with <paramref name="word"/>.</summary>
    protected static (int PoolSize, int? Stride)? ParseToken(string token, string word)
    {
        var r = new SpecTokenReader(token);
        if (!r.Take(word))
        {
            return null;
        }
        int pool = r.Int("pool size");
        int? stride = r.Take("s") ? r.Int("stride after 's'") : null;
        r.End(word + "<P>[s<S>]");
        return (pool, stride);
    }

    /// <summary>
    /// The window and stride of an ONNX MaxPool or AveragePool node (strides default to 1 there), which
    /// must pool "valid" positions as ours do: no pads, no ceil_mode, no dilation.
    /// </summary>
    protected static (int PoolSize, int Stride) OnnxWindow(OnnxImportNode node)
    {
        ArgumentNullException.ThrowIfNull(node);
        if (!node.Input.IsImage)
        {
            throw node.Refuse($"needs an image input, got {node.Input}");
        }
        if (node.Ints("pads", [0, 0, 0, 0]).Any(p => p != 0) || node.Text("auto_pad", "NOTSET") is not ("NOTSET" or "VALID" or ""))
        {
            throw node.Refuse("convnet pools without padding (pads 0, auto_pad NOTSET or VALID)");
        }
        if (node.Int("ceil_mode", 0) != 0 || node.Int("storage_order", 0) != 0)
        {
            throw node.Refuse("convnet pools with ceil_mode 0 and storage_order 0");
        }
        return node.Window();
    }

    /// <inheritdoc/>
    public override IReadOnlyDictionary<string, string> Config => new Dictionary<string, string>
    {
        ["pool_size"] = PoolSize.ToString(CultureInfo.InvariantCulture),
        ["stride"] = Stride.ToString(CultureInfo.InvariantCulture),
    };

    /// <inheritdoc/>
    public override Shape ComputeOutputShape(Shape input)
    {
        if (!input.IsImage)
        {
            throw new ArgumentException($"{TypeName} needs an image input (H, W, C), got {input}.");
        }
        var g = ConvGeometry.Create(input.Height, input.Width, input.Channels, PoolSize, Stride, same: false);
        if (g.OutHeight < 1 || g.OutWidth < 1)
        {
            throw new ArgumentException($"{TypeName} window {PoolSize}×{PoolSize} does not fit input {input}.");
        }
        return Shape.Image(g.OutHeight, g.OutWidth, input.Channels);
    }

    /// <inheritdoc/>
    protected override void OnBuild(LayerContext context)
        => Geometry = ConvGeometry.Create(InputShape.Height, InputShape.Width, InputShape.Channels, PoolSize, Stride, same: false);
}
