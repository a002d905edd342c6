using Convnet.Inference;
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
    private readonly Action<int> _forwardBlock, _backwardBlock;

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
        _forwardBlock = ForwardBlock;
        _backwardBlock = BackwardBlock;
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
    // ONNX Gemm: Y = A·Bᵀ + C (transB 1, B [units, in]: PyTorch's Linear, our saved layout) or A·B + C
    // (transB 0, B [in, units]); or MatMul by B [in, units], then Add of the bias [units].
    public static OnnxLayer? FromOnnx(OnnxImportNode node)
    {
        if (node.OpType is not ("Gemm" or "MatMul"))
        {
            return null;
        }
        if (node.Input.IsImage)
        {
            throw node.Refuse($"needs a vector input (a Flatten before it), got {node.Input}");
        }
        bool gemm = node.OpType == "Gemm";
        if (gemm && (node.Float("alpha", 1f) != 1f || node.Float("beta", 1f) != 1f || node.Int("transA", 0) != 0))
        {
            throw node.Refuse("convnet imports Gemm with alpha 1, beta 1 and transA 0 (a Dense layer)");
        }
        bool transposed = gemm && node.Int("transB", 0) != 0;
        var dims = node.Constant(1).Dims;
        int inputs = node.Input.Size;
        if (dims.Length != 2 || dims[transposed ? 1 : 0] != inputs || dims[transposed ? 0 : 1] is < 1 or > int.MaxValue)
        {
            throw node.Refuse($"weight of shape [{string.Join(", ", dims)}] for {inputs} inputs: needs [units, {inputs}] with transB 1, else [{inputs}, units]");
        }
        int units = (int)dims[transposed ? 0 : 1];
        var given = node.Weight(1, dims);
        float[] weight = given;
        if (!transposed)
        {
            weight = new float[given.Length];
            Layouts.Transpose(given, inputs, units, weight);
        }
        if (node.FlattenedChannelsLast is { } image)
        {
            weight = ToChannelsFirstColumns(weight, units, image);
        }
        bool add = !gemm && node.Next is { OpType: "Add" } next && next.Inputs.Count == 2 && next.Inputs[0] == node.Node.Outputs[0];
        float[] bias = gemm ? (node.Has(2) ? node.Weight(2, units) : new float[units])
            : add ? node.NextWeight(1, units) : new float[units];
        return new(new Dense(units), [weight, bias], add ? 2 : 1);
    }

    /// <summary>
    /// Weights [units, H·W·C] whose columns follow an (H, W, C) flatten, reordered for our Flatten's
    /// (C, H, W) order.
    /// </summary>
    private static float[] ToChannelsFirstColumns(float[] weight, int units, Shape image)
    {
        int h = image.Height, w = image.Width, c = image.Channels, size = h * w * c;
        var result = new float[weight.Length];
        for (int o = 0; o < units; o++)
        {
            for (int p = 0; p < h * w; p++)
            {
                for (int ch = 0; ch < c; ch++)
                {
                    result[o * size + ch * h * w + p] = weight[o * size + p * c + ch];
                }
            }
        }
        return result;
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

    /// <inheritdoc/>
    internal override bool CompileInference(InferenceCompiler compiler)
    {
        // A Flatten just before reorders (H, W, C) into (C, H, W): the stage reorders W's rows instead.
        var image = compiler.TakeFlatten();
        compiler.Add(new DenseStage(Kernel.Value, Bias.Value, InputShape.Size, Units, image, Name, OutputShape));
        return true;
    }

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
    // Both GEMMs pack W, a block of columns at a time.
    public override long BufferValues(Shape input, int batch) =>
        base.BufferValues(input, batch) + PackedLength(Units, (int)Values(input)) + PackedLength((int)Values(input), Units);

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
        _packedKernel = _packedKernel.Length > 0 ? _packedKernel : new float[PackedLength(Units, InputShape.Size)];
        _packedKernelT = _packedKernelT.Length > 0 || !ComputeInputGradient ? _packedKernelT : new float[PackedLength(InputShape.Size, Units)];
        base.EnsureCapacity(batch);
    }

    /// <inheritdoc/>
    // x: [N, in] → y: [N, units]
    public override Tensor Forward(Tensor x, bool training)
    {
        StartForward(x);
        if (x.Batch > Gemm.SmallRows)
        {
            Pool.For(Blocks(Units), _forwardBlock);
        }
        else
        {
            // A few rows read W unpacked.
            ForwardChunks();
        }
        return Y;
    }

    // y[:, j..j + 64) = x · W[:, j..j + 64) + b[j..j + 64): the block of W packed here, then the whole batch's product.
    private void ForwardBlock(int block)
    {
        int inputs = InputShape.Size;
        var (first, columns) = Block(block, Units);
        var packed = _packedKernel.AsSpan(block * Gemm.PackedSize(ColumnBlock, inputs));
        Gemm.PackB(Kernel.Value[first..], Units, false, columns, inputs, packed);
        Gemm.MultiplyPacked(X!.Samples(0, X.Batch), inputs, false, packed, X.Batch, columns, inputs, Y!.Samples(0, X.Batch)[first..], Units, accumulate: false, bias: Bias.Value.Slice(first, columns), relu: FuseRelu);
    }

    /// <inheritdoc/>
    protected override void ForwardChunk(int chunk, int start, int count)
    {
        var y = Y!.Samples(start, count);
        Gemm.Multiply(X!.Samples(start, count), InputShape.Size, false, Kernel.Value, Units, false, count, Units, InputShape.Size, y, Units, accumulate: false, bias: Bias.Value);
        if (FuseRelu)
        {
            Elementwise.Map<ReluOperator>(y, y);
        }
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
        Pool.For(Blocks(InputShape.Size), _backwardBlock);
        return Dx;
    }

    // dx[:, j..j + 64) = dy · Wᵀ[:, j..j + 64): rows j.. of W packed here as columns of Wᵀ, then the whole batch's product.
    private void BackwardBlock(int block)
    {
        int inputs = InputShape.Size;
        var (first, columns) = Block(block, inputs);
        var packed = _packedKernelT.AsSpan(block * Gemm.PackedSize(ColumnBlock, Units));
        Gemm.PackB(Kernel.Value[(first * Units)..], Units, true, columns, Units, packed);
        Gemm.MultiplyPacked(Dy!.Samples(0, Dy.Batch), Units, false, packed, Dy.Batch, columns, Units, Dx!.Samples(0, Dy.Batch)[first..], inputs, accumulate: false);
    }

    // Work items of the GEMMs: blocks of ColumnBlock output columns, each packing its own part of W
    // and multiplying the whole batch by it. Chunks of 16 rows against all of packed W ran at half
    // the speed (each chunk read all of W's panels for three rows of tiles), and W was packed by one
    // thread. Every output sums the same products in the same order either way.
    private const int ColumnBlock = 64;

    private static int Blocks(int columns) => (columns + ColumnBlock - 1) / ColumnBlock;

    private static (int First, int Columns) Block(int block, int columns) =>
        (block * ColumnBlock, Math.Min(ColumnBlock, columns - block * ColumnBlock));

    // Floats of the packed blocks of a [k, n] operand.
    private static long PackedLength(int n, int k) =>
        (long)(Blocks(n) - 1) * Gemm.PackedSize(ColumnBlock, k) + Gemm.PackedSize(n - (Blocks(n) - 1) * ColumnBlock, k);

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
