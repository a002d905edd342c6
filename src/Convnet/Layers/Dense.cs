using System.Globalization;
using Convnet.IO.Onnx;
using Convnet.Kernels;
using Convnet.Tensors;
using Convnet.Runtime;

namespace Convnet.Layers;

/// <summary>Fully connected layer: y = x · W + b with W: [in, units] (Keras's layout).</summary>
public sealed class Dense : Layer, ILayerKind
{
    private readonly BatchReduction _reduce = new();
    private Parameter? _kernel, _bias;
    private float[] _packedKernel = [];
    private float[] _packedKernelT = [];

    /// <param name="units">Output features, at least 1.</param>
    /// <param name="initializer">How <see cref="Kernel"/> is drawn when built; the bias starts at 0.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="units"/> is less than 1.</exception>
    public Dense(int units, Initializer initializer = Initializer.GlorotUniform)
    {
        if (units < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(units), units, "units must be at least 1.");
        }
        Units = units;
        Initializer = initializer;
    }

    /// <inheritdoc/>
    public static string KindName => "Dense";
    /// <inheritdoc/>
    public static string TokenForm => "dense<N>";

    /// <inheritdoc/>
    public static Layer FromConfig(LayerConfig config) => new Dense(config.Int("units"));

    /// <inheritdoc/>
    public static Layer? ParseToken(string token)
    {
        var r = new SpecTokenReader(token);
        if (!r.Take("dense"))
        {
            return null;
        }
        int units = r.Int("the number of units after 'dense'");
        r.End(TokenForm);
        return new Dense(units);
    }

    /// <inheritdoc/>
    public override string FormatToken() => "dense" + LayerConfig.Of(Units);

    /// <summary>Output features: y has shape [N, units].</summary>
    public int Units { get; }
    /// <summary>How <see cref="Kernel"/> is drawn when the layer is built (fan-in the input size, fan-out <see cref="Units"/>); not part of <see cref="Config"/>.</summary>
    public Initializer Initializer { get; }
    /// <inheritdoc/>
    public override string TypeName => KindName;

    /// <summary>Set by <see cref="PlanFusion"/> when a ReLU follows: the output is rectified in the GEMM epilogue.</summary>
    internal bool FuseRelu { get; private set; }

    /// <inheritdoc/>
    protected internal override bool CanRectifyOutput => true;

    /// <inheritdoc/>
    protected internal override void PlanFusion(Layer? previous, Layer? next) => FuseRelu = next is ReLU;

    /// <summary>[in, units].</summary>
    public Parameter Kernel => _kernel ?? throw new InvalidOperationException("Not built.");

    /// <summary>[units].</summary>
    public Parameter Bias => _bias ?? throw new InvalidOperationException("Not built.");

    /// <inheritdoc/>
    public override IReadOnlyDictionary<string, string> Config => new Dictionary<string, string>
    {
        ["units"] = Units.ToString(CultureInfo.InvariantCulture),
    };

    /// <inheritdoc/>
    // PyTorch's Linear: weight [out, in], bias [out]
    public override IReadOnlyList<TensorDeclaration> DeclareTensors(Shape input) =>
        [new("weight", Units, input.Size), new("bias", Units)];

    /// <inheritdoc/>
    public override float[][] SaveOwnTensors()
    {
        var weight = new float[Kernel.Length];
        Layouts.Transpose(Kernel.Value, InputShape.Size, Units, weight);
        return [weight, Bias.Value.ToArray()];
    }

    /// <inheritdoc/>
    public override void LoadOwnTensors(IReadOnlyList<float[]> tensors)
    {
        Layouts.Transpose(tensors[0], Units, InputShape.Size, Kernel.Value);
        tensors[1].CopyTo(Bias.Value);
    }

    /// <inheritdoc/>
    // Both GEMMs pack W.
    public override long BufferValues(Shape input, int batch) => base.BufferValues(input, batch) + 2 * Values(input) * Units;

    /// <inheritdoc/>
    public override Shape ComputeOutputShape(Shape input)
    {
        if (input.IsImage)
        {
            throw new ArgumentException($"Dense needs a vector input; add Flatten before it (got {input}).");
        }
        return Shape.Vector(Units);
    }

    /// <inheritdoc/>
    protected override void OnBuild(LayerContext context)
    {
        int inputs = InputShape.Size;
        _kernel = AddParameter(context, "kernel", inputs, Units);
        _bias = AddParameter(context, "bias", Units);
        var rng = context.CreateRng();
        Initializers.Fill(Initializer, _kernel.Value, inputs, Units, ref rng);
    }

    /// <inheritdoc/>
    public override void EnsureCapacity(int batch)
    {
        _packedKernel = _packedKernel.Length > 0 ? _packedKernel : new float[Gemm.PackedSize(Units, InputShape.Size)];
        _packedKernelT = _packedKernelT.Length > 0 || !ComputeInputGradient ? _packedKernelT : new float[Gemm.PackedSize(InputShape.Size, Units)];
        base.EnsureCapacity(batch);
    }

    /// <inheritdoc/>
    // x: [N, in] → y: [N, units]
    public override Tensor Forward(Tensor x, bool training)
    {
        StartForward(x);
        // W: [in, units], packed once for the whole batch (a batch of a few rows reads it unpacked).
        if (x.Batch > Gemm.SmallRows)
        {
            Gemm.PackB(Kernel.Value, Units, false, Units, InputShape.Size, _packedKernel);
        }
        ForwardChunks();
        return Y;
    }

    /// <inheritdoc/>
    protected override void ForwardChunk(int chunk, int start, int count)
    {
        var y = Y!.Samples(start, count);
        if (X!.Batch <= Gemm.SmallRows)
        {
            Gemm.Multiply(X.Samples(start, count), InputShape.Size, false, Kernel.Value, Units, false, count, Units, InputShape.Size, y, Units, accumulate: false, bias: Bias.Value);
            if (FuseRelu)
            {
                Elementwise.Map<ReluOperator>(y, y);
            }
            return;
        }
        Gemm.MultiplyPacked(X.Samples(start, count), InputShape.Size, false, _packedKernel, count, Units, InputShape.Size, y, Units, accumulate: false, bias: Bias.Value, relu: FuseRelu);
    }

    /// <inheritdoc/>
    // dy: [N, units] → dW += xᵀ·dy, db += Σ dy, dx = dy·Wᵀ
    public override Tensor? Backward(Tensor dy)
    {
        int batch = dy.Batch;
        _reduce.Accumulate(Pool, X!.Data, 0, dy.Data, 0, batch, InputShape.Size, Units, Kernel.GradientBuffer, Kernel.Offset);
        _reduce.AccumulateColumnSums(Pool, dy.Data, 0, batch, Units, Bias.GradientBuffer, Bias.Offset);
        if (!ComputeInputGradient)
        {
            return null;
        }
        StartBackward(dy);
        Dx!.SetBatch(batch);
        // Wᵀ: [units, in], packed once for the whole batch.
        Gemm.PackB(Kernel.Value, Units, true, InputShape.Size, Units, _packedKernelT);
        BackwardChunks();
        return Dx;
    }

    /// <inheritdoc/>
    protected override void BackwardChunk(int chunk, int start, int count)
    {
        Gemm.MultiplyPacked(Dy!.Samples(start, count), Units, false, _packedKernelT, count, InputShape.Size, Units, Dx!.Samples(start, count), InputShape.Size, accumulate: false);
    }

    /// <inheritdoc/>
    // Gemm: y = x · Wᵀ + b with W the [units, in] weight SaveOwnTensors gives (transB = 1).
    public override string ExportOnnx(OnnxGraphBuilder graph, string input)
    {
        ArgumentNullException.ThrowIfNull(graph);
        var t = SaveOwnTensors();
        string weight = graph.AddInitializer($"{Name}.weight", [Units, InputShape.Size], t[0]);
        string bias = graph.AddInitializer($"{Name}.bias", [Units], t[1]);
        return graph.AddNode("Gemm", [input, weight, bias], Name, OnnxAttribute.Of("transB", 1L));
    }
}
