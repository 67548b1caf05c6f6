import './base.css';
import './sweep.css';
import './table.css';
import './charts.css';
import 'uplot/dist/uPlot.min.css';
